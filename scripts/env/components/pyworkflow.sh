#!/usr/bin/env bash
# pyworkflow (PyPI `pyworkflow-engine`) in cached virtualenvs, with the drivers of its storage
# backends, so tests can create genuine pyworkflow data through pyworkflow's own storage classes
# (test/support/pyworkflow_driver.py). No daemon.
#
#  - newest release (the reference, README "Tests"): PYWORKFLOW_PYTHON
#  - legacy bootstrap releases, for stores the newest release cannot create itself
#    (docs/storage.md H7/H8):
#      PostgreSQL: every release >= 0.2.7 fails on an empty database; a store first created by
#                  <= 0.2.6 upgrades cleanly -> PYWORKFLOW_LEGACY_PYTHON (0.2.6)
#      MySQL:      every release >= 0.2.4 fails in connect(); only <= 0.2.3 can create and use a
#                  MySQL store -> PYWORKFLOW_MYSQL_PYTHON (0.2.3)
# Dependency versions are pinned by scripts/env/pyworkflow-constraints.txt for reproducibility.
# Usage: pyworkflow.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PYWORKFLOW_VERSION="0.4.0"
LEGACY_VERSION="0.2.6"
MYSQL_VERSION="0.2.3"
EXTRAS="sqlite,postgres,mysql,cassandra,dynamodb"
CONSTRAINTS="$REPO_ROOT/scripts/env/pyworkflow-constraints.txt"

venv_dir() { echo "$PYWR_CACHE/venv-pyworkflow-$1"; }

# The constraints file's hash is part of the completion marker, so changing the pins rebuilds.
constraints_hash() { sha256sum "$CONSTRAINTS" 2>/dev/null | cut -c1-16 || echo none; }

install_venv() {
  local version="$1" venv; venv="$(venv_dir "$1")"
  local marker="$venv/.complete-$(constraints_hash)"
  [[ -f "$marker" ]] && return 0
  log "creating $venv (pyworkflow-engine[$EXTRAS]==$version)"
  rm -rf "$venv"
  python3 -m venv "$venv" || { apt_install python3-venv; python3 -m venv "$venv"; }
  local -a cons=(); [[ -f "$CONSTRAINTS" ]] && cons=(-c "$CONSTRAINTS")
  local attempt
  for attempt in 1 2 3; do  # a registry hiccup should not fail the whole environment
    "$venv/bin/pip" install -q --disable-pip-version-check "${cons[@]}" "pyworkflow-engine[$EXTRAS]==$version" boto3 && break
    (( attempt < 3 )) || die "pip could not install pyworkflow-engine==$version"
    log "pip failed for $version (attempt $attempt), retrying"; sleep 5
  done
  check_venv "$version" || die "pyworkflow $version installed but does not import"
  touch "$marker"
}

# True when the venv's python imports pyworkflow at the expected version and its storage drivers.
check_venv() {
  local version="$1" py; py="$(venv_dir "$1")/bin/python"
  [[ -x "$py" ]] && "$py" - "$version" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
assert version("pyworkflow-engine") == sys.argv[1], version("pyworkflow-engine")
import pyworkflow, pyworkflow.storage.config  # noqa: F401
import aiosqlite, asyncpg, aiomysql, cassandra.cluster, aiobotocore, boto3  # noqa: F401
EOF
}

publish() {
  write_env pyworkflow \
    "PYWORKFLOW_PYTHON=$(venv_dir "$PYWORKFLOW_VERSION")/bin/python" \
    "PYWORKFLOW_VERSION=$PYWORKFLOW_VERSION" \
    "PYWORKFLOW_LEGACY_PYTHON=$(venv_dir "$LEGACY_VERSION")/bin/python" \
    "PYWORKFLOW_LEGACY_VERSION=$LEGACY_VERSION" \
    "PYWORKFLOW_MYSQL_PYTHON=$(venv_dir "$MYSQL_VERSION")/bin/python" \
    "PYWORKFLOW_MYSQL_VERSION=$MYSQL_VERSION" \
    "PYWORKFLOW_DRIVER=$REPO_ROOT/test/support/pyworkflow_driver.py"
}

up() {
  # the three venvs install in parallel (mostly download-bound); each reports its own failure
  local v rc=0; local -a pids=()
  for v in "$PYWORKFLOW_VERSION" "$LEGACY_VERSION" "$MYSQL_VERSION"; do install_venv "$v" & pids+=($!); done
  for v in "${pids[@]}"; do wait "$v" || rc=1; done
  (( rc == 0 )) || die "a pyworkflow virtualenv could not be installed"
  publish
}

status() {
  local v
  for v in "$PYWORKFLOW_VERSION" "$LEGACY_VERSION" "$MYSQL_VERSION"; do check_venv "$v" || return 1; done
}

case "${1:-}" in
  up) up ;;
  down) : ;;  # nothing runs
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
