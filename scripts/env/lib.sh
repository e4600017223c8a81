# Shared helpers for the test-environment scripts. Sourced, never run.
# Every component keeps its builds and downloads under $PYWR_CACHE (outside the repo, reused across
# runs), its data and pid under $PYWR_RUN, its log under $PYWR_LOGS, and writes the variables tests
# need to $PYWR_RUN/env.d/<component>.env (KEY=VALUE lines).

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYWR_CACHE="${PYWR_CACHE:-$HOME/.cache/pyworkflow-retention}"
PYWR_RUN="${PYWR_RUN:-$PYWR_CACHE/run}"
PYWR_LOGS="${PYWR_LOGS:-$PYWR_CACHE/logs}"
PYWR_ENV_FILE="${PYWR_ENV_FILE:-$REPO_ROOT/.test-env/env}"
mkdir -p "$PYWR_CACHE" "$PYWR_RUN/env.d" "$PYWR_LOGS" "$(dirname "$PYWR_ENV_FILE")"

log() { printf '[env %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# write_env COMPONENT KEY=VALUE...: the component's contribution to .test-env/env
write_env() {
  local comp="$1"; shift
  : > "$PYWR_RUN/env.d/$comp.env"
  for kv in "$@"; do printf '%s\n' "$kv" >> "$PYWR_RUN/env.d/$comp.env"; done
}

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...: polls COMMAND until it succeeds.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= timeout )); then return 1; fi
    sleep 0.5
  done
  log "$what ready after $(( SECONDS - start )) s"
}

# pid_alive PIDFILE: true when the pid in PIDFILE is a live process.
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_daemon NAME PIDFILE LOGFILE COMMAND...: starts COMMAND detached (survives this script).
start_daemon() {
  local name="$1" pidfile="$2" logfile="$3"; shift 3
  log "starting $name"
  setsid nohup "$@" >>"$logfile" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}

# stop_daemon PIDFILE [SIGNAL]: stops the process (and its group) named by PIDFILE, waits up to 30 s.
stop_daemon() {
  local pidfile="$1" sig="${2:-TERM}"
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid; pid="$(cat "$pidfile")"
  kill -"$sig" -- "-$pid" 2>/dev/null || kill -"$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; }
  rm -f "$pidfile"
}

# with_build_lock COMMAND...: serialises CPU-heavy builds across components (2 cores).
with_build_lock() {
  ( flock 9; "$@" ) 9>"$PYWR_CACHE/.build.lock"
}

# apt_install PKG...: installs Debian packages if missing (needs root; CI machines run as root).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  (( ${#missing[@]} == 0 )) && return 0
  log "apt-get install ${missing[*]}"
  # The flock serialises our own components; the dpkg lock timeout waits for any other apt-get on the
  # machine (e.g. another script installing buildah) instead of failing at once.
  ( flock 8
    export DEBIAN_FRONTEND=noninteractive
    local lock=(-o DPkg::Lock::Timeout=600)
    apt-get "${lock[@]}" update -qq >/dev/null 2>&1 || apt-get "${lock[@]}" update -qq
    apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ) 8>"$PYWR_CACHE/.apt.lock"
}

# tail_log FILE: the last lines of a log, for failure messages.
tail_log() { [[ -f "$1" ]] && { echo "----- last lines of $1 -----" >&2; tail -n 40 "$1" >&2; } || true; }

# go_env WHAT: Go builds keep their module and build caches under the cache, never in $HOME/go or the
# repo. The module cache (the downloads) stays; each build gets its own build cache (GOCACHE), deleted
# once the binary is built: gigabytes that only a rebuild of the same version could use.
go_env() {
  command -v go >/dev/null 2>&1 || die "go is not installed (Go 1.24 or newer is required to build $1)"
  export GOMODCACHE="$PYWR_CACHE/go/mod" GOCACHE="$PYWR_CACHE/go/build-$1" GOPATH="$PYWR_CACHE/go/path"
  export GOFLAGS="-mod=mod -modcacherw -buildvcs=false -trimpath" GOTOOLCHAIN=local CGO_ENABLED=0 GOTELEMETRY=off
  export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
}

# running PIDFILE PATTERN: the pid in PIDFILE is alive and its command line contains PATTERN (guards
# against pid reuse).
running() {
  pid_alive "$1" || return 1
  tr '\0' ' ' < "/proc/$(cat "$1")/cmdline" 2>/dev/null | grep -qF "$2"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# kubeconfig_text SERVER CA_FILE USER CERT_FILE KEY_FILE: a kubeconfig with the CA and the client
# certificate embedded, on stdout.
kubeconfig_text() {
  cat <<EOK
apiVersion: v1
kind: Config
clusters:
- name: pywr-test
  cluster:
    server: $1
    certificate-authority-data: $(base64 -w0 < "$2")
users:
- name: $3
  user:
    client-certificate-data: $(base64 -w0 < "$4")
    client-key-data: $(base64 -w0 < "$5")
contexts:
- name: pywr-test
  context:
    cluster: pywr-test
    user: $3
current-context: pywr-test
EOK
}
