#!/usr/bin/env bash
# A DynamoDB-API server for integration tests: moto in server mode (PyPI `moto[server]`, supports
# TransactWriteItems, BatchWriteItem, GSIs, pagination) from a cached virtualenv, on 127.0.0.1:18000.
# In-memory: a restart starts with no tables. Credentials are dummies (moto does not check them).
# Dependency versions are pinned by scripts/env/moto-constraints.txt.
# Usage: dynamodb.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

MOTO_VERSION="5.2.5"
PORT=18000
REGION=us-east-1
CONSTRAINTS="$REPO_ROOT/scripts/env/moto-constraints.txt"
VENV="$PYWR_CACHE/venv-moto-$MOTO_VERSION"
RUN_DIR="$PYWR_RUN/dynamodb"
PIDFILE="$RUN_DIR/moto.pid"
LOGFILE="$PYWR_LOGS/dynamodb.log"

healthy() {
  curl -sf -m 5 -X POST "http://127.0.0.1:$PORT/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/$REGION/dynamodb/aws4_request, SignedHeaders=host, Signature=0" \
    -d '{}' | grep -q TableNames
}

install_moto() {
  local marker="$VENV/.complete-$(sha256sum "$CONSTRAINTS" | cut -c1-16)"
  [[ -f "$marker" ]] && return 0
  command -v curl >/dev/null || apt_install curl
  log "creating $VENV with moto[server]==$MOTO_VERSION"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || { apt_install python3-venv; python3 -m venv "$VENV"; }
  local attempt
  for attempt in 1 2 3; do  # a registry hiccup should not fail the whole environment
    "$VENV/bin/pip" install -q --disable-pip-version-check -c "$CONSTRAINTS" "moto[server,dynamodb]==$MOTO_VERSION" && break
    (( attempt < 3 )) || die "pip could not install moto[server]==$MOTO_VERSION"
    log "pip failed (attempt $attempt), retrying"; sleep 5
  done
  touch "$marker"
}

publish() {
  write_env dynamodb \
    "DYNAMODB_ENDPOINT=http://127.0.0.1:$PORT" \
    "AWS_REGION=$REGION" \
    "AWS_DEFAULT_REGION=$REGION" \
    "AWS_ACCESS_KEY_ID=testing" \
    "AWS_SECRET_ACCESS_KEY=testing" \
    "DYNAMODB_SERVER=moto-$MOTO_VERSION"
}

up() {
  if pid_alive "$PIDFILE" && healthy; then publish; log "dynamodb (moto) already running"; return 0; fi
  install_moto
  stop_daemon "$PIDFILE"
  mkdir -p "$RUN_DIR"
  start_daemon "moto server" "$PIDFILE" "$LOGFILE" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT"
  wait_for "moto server" 60 healthy || { tail_log "$LOGFILE"; die "moto server did not start"; }
  publish
}

case "${1:-}" in
  up) up ;;
  down) stop_daemon "$PIDFILE" ;;
  status) pid_alive "$PIDFILE" && healthy ;;
  *) die "usage: $0 up|down|status" ;;
esac
