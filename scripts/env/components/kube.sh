#!/usr/bin/env bash
# A real Kubernetes control plane for the tests, on 127.0.0.1 only: etcd, kube-apiserver and
# kube-controller-manager (every default controller: cronjob, job, garbage collector, namespace,
# service accounts and their tokens, ttl-after-finished, ...). The kubelet, kube-scheduler and
# container runtime of a real node come from node.sh; test/support/test-node.ts plays a node (as local
# processes) for the pods of the faster suites.
#
# Binaries are built with `go build` from the upstream Go modules into
# $PYWR_CACHE/{etcd,kube}/<version>/bin once per version; data, certificates, kubeconfigs and pids
# live in $PYWR_RUN/kube, logs in $PYWR_LOGS/kube-*.log.
#
# Usage: kube.sh up|down|status
#        kube.sh restart-apiserver [SECONDS]  stop kube-apiserver and etcd, keep them down SECONDS
#                                             (default 0), start both again and wait until ready, then
#                                             restart kube-controller-manager (see restart_kcm)
#        kube.sh stop-apiserver | start-apiserver   the two halves of restart-apiserver
#        kube.sh reset                        down, then delete the cluster's data (etcd, certificates)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../kube-build.sh"

# Every subcommand but `up` acts on the cluster as `up` configured it (ports, versions), whatever
# PYWR_* variables the caller (a test restarting the API server, say) has or lacks.
SETTINGS="$PYWR_RUN/kube/settings.env"
if [[ "${1:-}" != up && -f "$SETTINGS" ]]; then source "$SETTINGS"; fi

KUBE_VERSION="${PYWR_KUBE_VERSION:-$KUBE_DEFAULT_VERSION}"
ETCD_VERSION="${PYWR_ETCD_VERSION:-v3.5.35}"    # the etcd 3.5 line Kubernetes 1.33 is tested with
KUBECTL="${PYWR_KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.1.33}"

ETCD_CLIENT_PORT="${PYWR_ETCD_CLIENT_PORT:-23790}"
ETCD_PEER_PORT="${PYWR_ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${PYWR_KUBE_APISERVER_PORT:-16443}"
KCM_PORT="${PYWR_KUBE_CONTROLLER_MANAGER_PORT:-10357}"
SERVICE_CIDR="10.0.0.0/24"
SERVICE_IP="10.0.0.1"                           # the `kubernetes` Service's cluster IP
SA_ISSUER="https://kubernetes.default.svc.cluster.local"
LOG_V="${PYWR_KUBE_LOG_VERBOSITY:-0}"          # klog -v of kube-apiserver and kube-controller-manager

ETCD_BIN="$PYWR_CACHE/etcd/$ETCD_VERSION/bin/etcd"
KUBE_BIN_DIR="$PYWR_CACHE/kube/$KUBE_VERSION/bin"
APISERVER_BIN="$KUBE_BIN_DIR/kube-apiserver"
KCM_BIN="$KUBE_BIN_DIR/kube-controller-manager"

RUN="$PYWR_RUN/kube"
PKI="$RUN/pki"
ETCD_DATA="$RUN/etcd-data"
ADMIN_KUBECONFIG="$RUN/admin.kubeconfig"
KCM_KUBECONFIG="$RUN/controller-manager.kubeconfig"
AUDIT_POLICY="$RUN/audit-policy.yaml"
AUDIT_LOG="$RUN/audit.log"
ETCD_PID="$RUN/etcd.pid"; APISERVER_PID="$RUN/kube-apiserver.pid"; KCM_PID="$RUN/kube-controller-manager.pid"
ETCD_LOG="$PYWR_LOGS/kube-etcd.log"; APISERVER_LOG="$PYWR_LOGS/kube-apiserver.log"; KCM_LOG="$PYWR_LOGS/kube-controller-manager.log"

APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"
ETCD_URL="http://127.0.0.1:$ETCD_CLIENT_PORT"
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

# ---------------------------------------------------------------------------------------- builds

build_etcd() {
  [[ -x "$ETCD_BIN" ]] && return 0          # another build finished while we waited for the lock
  go_env etcd
  local t=$SECONDS dir; dir="$(dirname "$(dirname "$ETCD_BIN")")"
  log "building etcd $ETCD_VERSION (go build go.etcd.io/etcd/server/v3)"
  rm -rf "$dir/mod"; mkdir -p "$dir/mod" "$dir/bin"
  cat > "$dir/mod/go.mod" <<EOF
module pywr.local/etcd-build

go 1.24.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  ( cd "$dir/mod"
    go mod download go.etcd.io/etcd/server/v3
    go build -ldflags "-s -w" -o "$ETCD_BIN.tmp" go.etcd.io/etcd/server/v3
  ) || die "go build of etcd $ETCD_VERSION failed"
  mv "$ETCD_BIN.tmp" "$ETCD_BIN"
  rm -rf "$GOCACHE"
  log "built etcd $ETCD_VERSION in $(( SECONDS - t )) s"
}

build_kube() {
  [[ -x "$APISERVER_BIN" && -x "$KCM_BIN" ]] && return 0
  go_env kube
  local mod; mod="$(kube_module_dir)"; local t
  mkdir -p "$KUBE_BIN_DIR"
  t=$SECONDS
  log "preparing the k8s.io/kubernetes $KUBE_VERSION wrapper module"
  kube_wrapper_module "$mod"
  ( cd "$mod" && go mod download k8s.io/kubernetes ) || die "module download for k8s.io/kubernetes $KUBE_VERSION failed"
  for cmd in kube-apiserver kube-controller-manager; do
    [[ -x "$KUBE_BIN_DIR/$cmd" ]] && continue
    log "building $cmd $KUBE_VERSION (go build k8s.io/kubernetes/cmd/$cmd)"
    ( cd "$mod" && go build -ldflags "$(kube_ldflags)" -o "$KUBE_BIN_DIR/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" ) \
      || die "go build of $cmd $KUBE_VERSION failed"
    mv "$KUBE_BIN_DIR/$cmd.tmp" "$KUBE_BIN_DIR/$cmd"
    log "built $cmd $KUBE_VERSION in $(( SECONDS - t )) s"
    t=$SECONDS
  done
  rm -rf "$GOCACHE"
}

ensure_binaries() {
  [[ -x "$KUBECTL" ]] || die "kubectl 1.33 not found at $KUBECTL (set PYWR_KUBECTL)"
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  command -v curl >/dev/null 2>&1 || apt_install curl
  [[ -x "$ETCD_BIN" ]] || with_build_lock build_etcd
  [[ -x "$APISERVER_BIN" && -x "$KCM_BIN" ]] || with_build_lock build_kube
}

# ------------------------------------------------------------------------- certificates, configs

# sign CA NAME SUBJECT EXTENSIONS: a key and a certificate (written last) signed by $PKI/CA.{crt,key}.
sign() {
  local ca="$1" name="$2" subj="$3" ext="$4"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile <(printf '%s\n' "$ext") -out "$PKI/$name.crt.tmp" 2>/dev/null
  mv "$PKI/$name.crt.tmp" "$PKI/$name.crt"
  rm -f "$PKI/$name.csr"
}

# kubeconfig FILE USER CERT: a kubeconfig with embedded CA and client certificate.
kubeconfig() {
  kubeconfig_text "$APISERVER_URL" "$PKI/ca.crt" "$2" "$PKI/$3.crt" "$PKI/$3.key" > "$1.tmp"
  chmod 600 "$1.tmp"; mv "$1.tmp" "$1"
}

ensure_config() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  if [[ ! -f "$PKI/ca.crt" ]]; then
    log "generating certificates in $PKI"
    rm -f "$PKI"/*; rm -f "$ADMIN_KUBECONFIG" "$KCM_KUBECONFIG"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt.tmp" -days 3650 -sha256 \
      -subj "/CN=pywr-test-kubernetes-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    mv "$PKI/ca.crt.tmp" "$PKI/ca.crt"
  fi
  local client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  [[ -f "$PKI/apiserver.crt" ]] || sign ca apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  [[ -f "$PKI/admin.crt" ]] || { sign ca admin "/O=system:masters/CN=pywr-test-admin" "$client"; rm -f "$ADMIN_KUBECONFIG"; }
  [[ -f "$PKI/controller-manager.crt" ]] ||
    { sign ca controller-manager "/CN=system:kube-controller-manager" "$client"; rm -f "$KCM_KUBECONFIG"; }
  # The front-proxy (request header) CA lets delegated authentication and aggregated API servers work.
  if [[ ! -f "$PKI/front-proxy-ca.crt" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/front-proxy-ca.key" -out "$PKI/front-proxy-ca.crt.tmp" -days 3650 \
      -sha256 -subj "/CN=pywr-test-front-proxy-ca" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
    mv "$PKI/front-proxy-ca.crt.tmp" "$PKI/front-proxy-ca.crt"
    rm -f "$PKI/front-proxy-client.crt"
  fi
  [[ -f "$PKI/front-proxy-client.crt" ]] || sign front-proxy-ca front-proxy-client "/CN=front-proxy-client" "$client"
  if [[ ! -f "$PKI/sa.pub" ]]; then
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub.tmp" 2>/dev/null
    mv "$PKI/sa.pub.tmp" "$PKI/sa.pub"
  fi
  [[ -f "$ADMIN_KUBECONFIG" ]] || kubeconfig "$ADMIN_KUBECONFIG" pywr-test-admin admin
  [[ -f "$KCM_KUBECONFIG" ]] || kubeconfig "$KCM_KUBECONFIG" system:kube-controller-manager controller-manager
  # Audit log of every write (metadata only): lets tests prove that a steady-state controller writes nothing.
  cat > "$AUDIT_POLICY" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
EOF
}

# ------------------------------------------------------------------------------------ processes

etcd_healthy() { curl -fsS -m 3 "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; }
apiserver_ready() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=5s get --raw /readyz >/dev/null 2>&1; }
kcm_healthy() { [[ "$(curl -ksS -m 3 "https://127.0.0.1:$KCM_PORT/healthz" 2>/dev/null)" == ok ]]; }
cluster_bootstrapped() {
  "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=5s get namespace kube-system >/dev/null 2>&1 &&
  "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=5s -n default get serviceaccount default >/dev/null 2>&1
}

# fail_start WHAT LOG: a clear error with the process's log tail.
fail_start() { tail_log "$2"; die "$1"; }

start_etcd() {
  if running "$ETCD_PID" "$ETCD_BIN"; then
    etcd_healthy && return 0
    wait_for "etcd" 20 etcd_healthy || fail_start "etcd (pid $(cat "$ETCD_PID")) runs but is not healthy at $ETCD_URL" "$ETCD_LOG"
    return 0
  fi
  for p in "$ETCD_CLIENT_PORT" "$ETCD_PEER_PORT"; do
    port_in_use "$p" && die "port 127.0.0.1:$p is used by another process (set PYWR_ETCD_CLIENT_PORT / PYWR_ETCD_PEER_PORT)"
  done
  mkdir -p "$ETCD_DATA"; chmod 700 "$ETCD_DATA"
  start_daemon etcd "$ETCD_PID" "$ETCD_LOG" "$ETCD_BIN" \
    --name pywr-test --data-dir "$ETCD_DATA" \
    --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "pywr-test=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
    --unsafe-no-fsync --log-level warn
  wait_for "etcd" 30 etcd_healthy || fail_start "etcd did not become healthy at $ETCD_URL within 30 s" "$ETCD_LOG"
}

start_apiserver() {
  if running "$APISERVER_PID" "$APISERVER_BIN"; then
    apiserver_ready && return 0
    wait_for "kube-apiserver" 60 apiserver_ready || fail_start "kube-apiserver (pid $(cat "$APISERVER_PID")) runs but $APISERVER_URL/readyz is not ok" "$APISERVER_LOG"
    return 0
  fi
  port_in_use "$APISERVER_PORT" && die "port 127.0.0.1:$APISERVER_PORT is used by another process (set PYWR_KUBE_APISERVER_PORT)"
  start_daemon kube-apiserver "$APISERVER_PID" "$APISERVER_LOG" "$APISERVER_BIN" \
    --etcd-servers="$ETCD_URL" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction \
    --service-account-issuer="$SA_ISSUER" --api-audiences="$SA_ISSUER" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --allow-privileged=true \
    --audit-policy-file="$AUDIT_POLICY" --audit-log-path="$AUDIT_LOG" \
    --audit-log-format=json --audit-log-maxsize=100 --audit-log-maxbackup=1 \
    --cert-dir="$RUN/apiserver-certs" \
    --shutdown-watch-termination-grace-period=2s \
    --profiling=false --v="$LOG_V"
  wait_for "kube-apiserver" 90 apiserver_ready || fail_start "kube-apiserver did not become ready at $APISERVER_URL within 90 s" "$APISERVER_LOG"
}

start_kcm() {
  if running "$KCM_PID" "$KCM_BIN"; then
    kcm_healthy && return 0
    wait_for "kube-controller-manager" 60 kcm_healthy || fail_start "kube-controller-manager (pid $(cat "$KCM_PID")) runs but is not healthy" "$KCM_LOG"
    return 0
  fi
  port_in_use "$KCM_PORT" && die "port 127.0.0.1:$KCM_PORT is used by another process (set PYWR_KUBE_CONTROLLER_MANAGER_PORT)"
  start_daemon kube-controller-manager "$KCM_PID" "$KCM_LOG" "$KCM_BIN" \
    --kubeconfig="$KCM_KUBECONFIG" \
    --authentication-kubeconfig="$KCM_KUBECONFIG" --authorization-kubeconfig="$KCM_KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
    --controllers='*' \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --cluster-name=pywr-test \
    --kube-api-qps=100 --kube-api-burst=200 \
    --profiling=false --v="$LOG_V"
  wait_for "kube-controller-manager" 60 kcm_healthy || fail_start "kube-controller-manager did not become healthy within 60 s" "$KCM_LOG"
}

publish() {
  write_env kube \
    "KUBECONFIG=$ADMIN_KUBECONFIG" \
    "KUBECTL=$KUBECTL" \
    "KUBE_APISERVER_URL=$APISERVER_URL" \
    "KUBE_VERSION=$KUBE_VERSION" \
    "KUBE_CA_FILE=$PKI/ca.crt" \
    "KUBE_SERVICE_ACCOUNT_ISSUER=$SA_ISSUER" \
    "KUBE_AUDIT_LOG=$AUDIT_LOG" \
    "KUBE_ETCD_URL=$ETCD_URL" \
    "KUBE_ENV_SCRIPT=$SELF"
}

save_settings() {
  cat > "$SETTINGS" <<EOF
PYWR_KUBE_VERSION=$KUBE_VERSION
PYWR_ETCD_VERSION=$ETCD_VERSION
PYWR_KUBECTL=$KUBECTL
PYWR_ETCD_CLIENT_PORT=$ETCD_CLIENT_PORT
PYWR_ETCD_PEER_PORT=$ETCD_PEER_PORT
PYWR_KUBE_APISERVER_PORT=$APISERVER_PORT
PYWR_KUBE_CONTROLLER_MANAGER_PORT=$KCM_PORT
PYWR_KUBE_LOG_VERBOSITY=$LOG_V
EOF
}

up() {
  local t=$SECONDS
  ensure_binaries
  ensure_config
  save_settings
  start_etcd
  start_apiserver
  start_kcm
  wait_for "cluster bootstrap (kube-system namespace, default service account)" 90 cluster_bootstrapped \
    || fail_start "the cluster did not bootstrap: no kube-system namespace or no default/default service account after 90 s" "$KCM_LOG"
  publish
  log "kubernetes $KUBE_VERSION up at $APISERVER_URL in $(( SECONDS - t )) s (KUBECONFIG=$ADMIN_KUBECONFIG)"
}

status() {
  etcd_healthy && apiserver_ready && running "$KCM_PID" "$KCM_BIN" && kcm_healthy &&
    "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=5s get namespace kube-system >/dev/null 2>&1
}

stop_apiserver() {
  stop_daemon "$APISERVER_PID"
  stop_daemon "$ETCD_PID"
}

# A restarted kube-apiserver has a new watch cache without history, so every informer of the
# controller manager must relist, and client-go's reflectors do that only after their backoff, which
# grows with each failed attempt while the API server was down (up to a minute; the Job and service
# account controllers stay stale meanwhile). A real controller manager with leader election exits when
# it cannot renew its lease for that long and is restarted; this one runs without leader election, so
# we restart it: the built-in controllers are not what the tests examine, the operator is.
restart_kcm() {
  stop_daemon "$KCM_PID"
  start_kcm
  # The same holds for the real node's kube-scheduler (node.sh), when it runs.
  if [[ -f "$PYWR_RUN/node/kube-scheduler.pid" ]]; then bash "$(dirname "$SELF")/node.sh" restart-scheduler; fi
}

case "${1:-}" in
  up) up ;;
  down)
    stop_daemon "$KCM_PID"
    stop_apiserver
    log "kubernetes stopped (data kept in $RUN; \`kube.sh reset\` deletes it)"
    ;;
  status) status ;;
  stop-apiserver) stop_apiserver; log "kube-apiserver and etcd stopped" ;;
  start-apiserver) ensure_config; start_etcd; start_apiserver; restart_kcm ;;
  restart-apiserver)
    t=$SECONDS
    stop_apiserver
    sleep "${2:-0}"
    ensure_config; start_etcd; start_apiserver; restart_kcm
    log "kube-apiserver and etcd restarted (and kube-controller-manager) in $(( SECONDS - t )) s"
    ;;
  reset)
    stop_daemon "$KCM_PID"; stop_apiserver
    rm -rf "$RUN" "$PYWR_RUN/env.d/kube.env"
    log "kubernetes data deleted"
    ;;
  *) echo "usage: $0 up|down|status|restart-apiserver [SECONDS]|stop-apiserver|start-apiserver|reset" >&2; exit 2 ;;
esac
