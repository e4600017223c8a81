#!/usr/bin/env bash
# MariaDB (Debian package, server core only: no systemd unit, no system datadir) for integration
# tests: an own datadir under $PYWR_RUN/mariadb initialised with mariadb-install-db, listening on
# 127.0.0.1:13306 (socket in the run dir), tuned for speed, root and `pyworkflow` with passwords.
# Usage: mariadb.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PORT=13306
ROOT_PASSWORD=pywr-root-pw
APP_USER=pyworkflow
APP_PASSWORD=pyworkflow-pw
APP_DB=pyworkflow

RUN_DIR="$PYWR_RUN/mariadb"
DATA="$RUN_DIR/data"
CNF="$RUN_DIR/my.cnf"
SOCK="$RUN_DIR/mariadb.sock"
PIDFILE="$RUN_DIR/mariadb.pid"
LOGFILE="$PYWR_LOGS/mariadb.log"

tcp_sql() { timeout 10 mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P "$PORT" "$@"; }
root_socket_sql() { timeout 30 mariadb --no-defaults --socket="$SOCK" -u root "$@"; }

healthy() {
  [[ "$(tcp_sql -u "$APP_USER" -p"$APP_PASSWORD" -N -B -e 'select 1' "$APP_DB" 2>/dev/null)" == 1 ]]
}

write_cnf() {
  mkdir -p "$RUN_DIR" "$RUN_DIR/tmp"
  cat > "$CNF" <<EOF
# written by scripts/env/components/mariadb.sh
[mariadbd]
user = root
datadir = $DATA
socket = $SOCK
pid-file = $RUN_DIR/mariadbd.pid
tmpdir = $RUN_DIR/tmp
port = $PORT
bind-address = 127.0.0.1
skip-name-resolve
skip-log-bin
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
default-time-zone = '+00:00'
max_connections = 300
innodb_buffer_pool_size = 256M
innodb_log_file_size = 64M
innodb_flush_log_at_trx_commit = 0
innodb_flush_method = O_DIRECT_NO_FSYNC
innodb_doublewrite = 0
sync_binlog = 0
performance_schema = OFF
EOF
}

init_datadir() {
  [[ -d "$DATA/mysql" ]] && return 0
  log "initialising MariaDB datadir $DATA"
  rm -rf "$DATA"; mkdir -p "$DATA"
  mariadb-install-db --defaults-file="$CNF" --user=root --skip-test-db --skip-name-resolve \
    --auth-root-authentication-method=socket --datadir="$DATA" >>"$LOGFILE" 2>&1 \
    || { tail_log "$LOGFILE"; die "mariadb-install-db failed"; }
}

publish() {
  write_env mariadb \
    "MYSQL_HOST=127.0.0.1" \
    "MYSQL_PORT=$PORT" \
    "MYSQL_USER=root" \
    "MYSQL_PASSWORD=$ROOT_PASSWORD" \
    "MYSQL_URL=mysql://root:$ROOT_PASSWORD@127.0.0.1:$PORT/" \
    "MYSQL_PYWORKFLOW_USER=$APP_USER" \
    "MYSQL_PYWORKFLOW_PASSWORD=$APP_PASSWORD" \
    "MYSQL_PYWORKFLOW_DATABASE=$APP_DB" \
    "MYSQL_PYWORKFLOW_URL=mysql://$APP_USER:$APP_PASSWORD@127.0.0.1:$PORT/$APP_DB" \
    "MYSQL_SERVER_VERSION=$(mariadbd --version | awk '{print $3}')"
}

up() {
  if pid_alive "$PIDFILE" && healthy; then publish; log "mariadb already running"; return 0; fi
  command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null && command -v mariadb >/dev/null \
    || apt_install mariadb-server-core mariadb-client-core
  stop_daemon "$PIDFILE"
  write_cnf
  init_datadir
  start_daemon mariadb "$PIDFILE" "$LOGFILE" mariadbd --defaults-file="$CNF"
  wait_for "mariadb socket" 60 root_socket_sql -e 'select 1' || { tail_log "$LOGFILE"; die "mariadb did not start"; }
  # users and database (idempotent); root keeps socket auth locally and gets a password over TCP
  root_socket_sql <<EOF
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$ROOT_PASSWORD';
ALTER USER 'root'@'%' IDENTIFIED BY '$ROOT_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \`$APP_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$APP_USER'@'%' IDENTIFIED BY '$APP_PASSWORD';
ALTER USER '$APP_USER'@'%' IDENTIFIED BY '$APP_PASSWORD';
GRANT ALL PRIVILEGES ON \`$APP_DB\`.* TO '$APP_USER'@'%';
FLUSH PRIVILEGES;
EOF
  healthy || die "mariadb is up but $APP_USER cannot connect over TCP"
  publish
}

case "${1:-}" in
  up) up ;;
  down) stop_daemon "$PIDFILE" ;;
  status) pid_alive "$PIDFILE" && healthy ;;
  *) die "usage: $0 up|down|status" ;;
esac
