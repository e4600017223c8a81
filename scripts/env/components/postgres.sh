#!/usr/bin/env bash
# PostgreSQL 15 (Debian package) for integration tests: an own cluster under $PYWR_RUN/postgres,
# listening on 127.0.0.1:15432 only, tuned for speed (no durability), password (scram) auth over TCP.
# postgres refuses to run as root, so the server runs as the `postgres` system user (created by the
# Debian package) through setpriv, with the ambient capability CAP_DAC_READ_SEARCH so that it can
# reach its data directory below root's home (mode 700) without loosening any permissions.
# Usage: postgres.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PORT=15432
SUPERUSER=postgres
SUPERUSER_PASSWORD=pywr-super-pw
APP_USER=pyworkflow
APP_PASSWORD=pyworkflow-pw
APP_DB=pyworkflow
RUN_USER=postgres

RUN_DIR="$PYWR_RUN/postgres"
DATA="$RUN_DIR/data"
SOCK_DIR="$RUN_DIR/socket"
PIDFILE="$RUN_DIR/postgres.pid"
LOGFILE="$PYWR_LOGS/postgres.log"

as_pg() {
  setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups \
    --inh-caps=+dac_read_search --ambient-caps=+dac_read_search -- "$@"
}

su_psql() { PGPASSWORD="$SUPERUSER_PASSWORD" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$@"; }

healthy() {
  [[ "$(PGPASSWORD="$APP_PASSWORD" timeout 10 "$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PORT" -U "$APP_USER" -d "$APP_DB" -c 'select 1' 2>/dev/null)" == 1 ]]
}

install_pg() {
  [[ -x "$PG_BIN/postgres" ]] || apt_install "postgresql-$PG_MAJOR"
  [[ -x "$PG_BIN/postgres" ]] || die "PostgreSQL $PG_MAJOR binaries missing in $PG_BIN after apt install"
  id "$RUN_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
}

init_cluster() {
  [[ -f "$DATA/PG_VERSION" ]] && return 0
  log "initialising PostgreSQL cluster in $DATA"
  rm -rf "$DATA"; mkdir -p "$DATA" "$SOCK_DIR"
  chown "$RUN_USER:" "$RUN_DIR" "$DATA" "$SOCK_DIR"; chmod 700 "$DATA"
  local pwfile="$RUN_DIR/.pw"
  printf '%s\n' "$SUPERUSER_PASSWORD" > "$pwfile"; chown "$RUN_USER:" "$pwfile"; chmod 600 "$pwfile"
  as_pg "$PG_BIN/initdb" -D "$DATA" -U "$SUPERUSER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 >>"$LOGFILE" 2>&1 || { tail_log "$LOGFILE"; die "initdb failed"; }
  rm -f "$pwfile"
  cat >> "$DATA/postgresql.conf" <<EOF

# --- pyworkflow-retention test settings (scripts/env/components/postgres.sh) ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK_DIR'
max_connections = 300
shared_buffers = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
checkpoint_timeout = 30min
max_wal_size = 2GB
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
log_min_error_statement = error
EOF
  cat > "$DATA/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
EOF
}

publish() {
  write_env postgres \
    "PG_HOST=127.0.0.1" \
    "PG_PORT=$PORT" \
    "PG_USER=$SUPERUSER" \
    "PG_PASSWORD=$SUPERUSER_PASSWORD" \
    "PG_URL=postgres://$SUPERUSER:$SUPERUSER_PASSWORD@127.0.0.1:$PORT/postgres" \
    "PG_PYWORKFLOW_USER=$APP_USER" \
    "PG_PYWORKFLOW_PASSWORD=$APP_PASSWORD" \
    "PG_PYWORKFLOW_DATABASE=$APP_DB" \
    "PG_PYWORKFLOW_URL=postgres://$APP_USER:$APP_PASSWORD@127.0.0.1:$PORT/$APP_DB" \
    "PG_SERVER_VERSION=$("$PG_BIN/postgres" --version | awk '{print $3}')"
}

up() {
  if pid_alive "$PIDFILE" && healthy; then publish; log "postgres already running"; return 0; fi
  install_pg
  stop_daemon "$PIDFILE" INT
  init_cluster
  mkdir -p "$SOCK_DIR"; chown "$RUN_USER:" "$SOCK_DIR"
  # a postmaster.pid left by a killed server (machine kept across sessions) can name a pid that a
  # different process has now, and postgres would refuse to start: drop it unless it is a postgres
  if [[ -f "$DATA/postmaster.pid" ]]; then
    local opid; opid="$(head -n 1 "$DATA/postmaster.pid")"
    if [[ "$(cat "/proc/$opid/comm" 2>/dev/null)" == postgres* ]]; then
      die "a postgres (pid $opid) not started by this script runs on $DATA; stop it first"
    fi
    rm -f "$DATA/postmaster.pid"
  fi
  start_daemon postgres "$PIDFILE" "$LOGFILE" \
    setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups \
      --inh-caps=+dac_read_search --ambient-caps=+dac_read_search -- "$PG_BIN/postgres" -D "$DATA"
  wait_for "postgres accepting connections" 60 su_psql -d postgres -c 'select 1' \
    || { tail_log "$LOGFILE"; die "postgres did not start"; }
  # role and database for pyworkflow (idempotent)
  su_psql -d postgres <<EOF
SELECT 'CREATE ROLE $APP_USER LOGIN CREATEDB' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER')\gexec
ALTER ROLE $APP_USER WITH LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
SELECT 'CREATE DATABASE $APP_DB OWNER $APP_USER' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$APP_DB')\gexec
EOF
  healthy || die "postgres is up but the $APP_USER role cannot connect"
  publish
}

case "${1:-}" in
  up) up ;;
  # SIGINT = fast shutdown (SIGTERM would wait for every client to disconnect)
  down) stop_daemon "$PIDFILE" INT ;;
  status) pid_alive "$PIDFILE" && healthy ;;
  *) die "usage: $0 up|down|status" ;;
esac
