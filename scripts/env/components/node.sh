#!/usr/bin/env bash
# A real Kubernetes node for the tests, joined to the control plane of kube.sh: containerd and runc
# (Debian packages), the Debian CNI plugins, a kubelet, kube-scheduler and kube-proxy built from the same
# k8s.io/kubernetes wrapper module as kube-apiserver (scripts/env/kube-build.sh), and a locally built
# busybox image that is both the pod sandbox ("pause") image and a small image for test pods. Pods are
# scheduled by the real scheduler and run in real containers, exactly as on a cluster.
#
# - The Node (default `pywr-node`) registers with the taint pyworkflow.io/real-node=true:NoSchedule,
#   so only pods that tolerate it run here; the faster suites keep test/support/test-node.ts, whose
#   Node carries pyworkflow.io/test-node=true:NoSchedule. The scheduler also adds a node affinity for
#   the label pyworkflow.io/real-node=true (this node's) to every pod: it never places a pod on a test
#   node, whatever the pod tolerates.
# - Pod networking: a bridge + host-local CNI network (PYWR_POD_SUBNET, default 10.213.0.0/24) with a
#   gateway address on the host (PYWR_NODE_GATEWAY_IP, the subnet's .1), and kube-proxy (iptables mode,
#   built like the kubelet) so that ClusterIP Services work from pods and from the host. The API server
#   and the test servers keep listening on 127.0.0.1 only: a TCP forwarder (Debian's socat) per port in
#   PYWR_NODE_HOST_PORTS listens on the gateway address and connects to 127.0.0.1:<same port>. The
#   `kubernetes` Service's EndpointSlice (written here, see ensure_kubernetes_endpoints) names the
#   gateway and the API server's port, so in-cluster clients reach the API server through kube-proxy
#   at the Service's ClusterIP (10.0.0.1, already in the serving certificate kube.sh makes). Tests reach
#   another forwarded server (PostgreSQL) the same way: a Service without selector and an EndpointSlice
#   naming the gateway. The subnet stays private: no NAT, forwarding enabled on the bridge only, and
#   iptables chains PYWR-NODE-INPUT / PYWR-NODE-FORWARD drop everything from pods but pod-to-pod
#   traffic, replies, and the forwarded ports on the gateway, and anything from other interfaces to the
#   pod subnet (see ensure_firewall). No cluster DNS: pods find Services by ClusterIP or by the
#   <NAME>_SERVICE_HOST/_PORT variables the kubelet injects. kube-proxy's healthz and metrics listen on
#   127.0.0.1, its NodePorts only on the gateway address: nothing listens on the VM's own interfaces.
# - StorageClass `pywr-local` (no provisioner, WaitForFirstConsumer) for `local` PersistentVolumes on
#   host directories (test/support/real-node.ts creates them).
# - The kubelet listens on 127.0.0.1 only (client certificates of the cluster CA, no anonymous access),
#   so the API server cannot proxy `kubectl logs`: container logs are files under PYWR_NODE_POD_LOGS_DIR.
#
# Everything lives under the cache: binaries (kubelet, kube-scheduler, kube-proxy) in $PYWR_CACHE/kube/<version>/bin and
# $PYWR_CACHE/crictl/<version>/bin, the image archive and buildah storage in $PYWR_CACHE/node, and
# containerd's root/state/socket, the kubelet's root dir, certificates and pids in $PYWR_RUN/node; logs
# in $PYWR_LOGS/node-*.log. Needs root (containers, mounts, network namespaces).
#
# A failure prints the relevant log tail. With CI=true it fails `up` (and so the whole environment);
# elsewhere `up` warns and publishes no variables, so a machine that cannot run containers still gets
# every other component (the suites that need the node then fail on the missing PYWR_NODE_NAME).
#
# Usage: node.sh up|down|status
#        node.sh build               (only the binaries: kubelet, kube-scheduler, kube-proxy, crictl)
#        node.sh restart-scheduler   (kube.sh restart-apiserver calls it, like its kube-controller-manager restart)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../kube-build.sh"

SETTINGS="$PYWR_RUN/node/settings.env"
if [[ "${1:-}" != up* && -f "$SETTINGS" ]]; then source "$SETTINGS"; fi
# The node runs the control plane's version (kube.sh saves it with its settings).
if [[ -z "${PYWR_KUBE_VERSION:-}" && -f "$PYWR_RUN/kube/settings.env" ]]; then
  PYWR_KUBE_VERSION="$(sed -n 's/^PYWR_KUBE_VERSION=//p' "$PYWR_RUN/kube/settings.env")"
fi
# ... and forwards the API server's port to the pods.
if [[ -z "${PYWR_KUBE_APISERVER_PORT:-}" && -f "$PYWR_RUN/kube/settings.env" ]]; then
  PYWR_KUBE_APISERVER_PORT="$(sed -n 's/^PYWR_KUBE_APISERVER_PORT=//p' "$PYWR_RUN/kube/settings.env")"
fi

KUBE_VERSION="${PYWR_KUBE_VERSION:-$KUBE_DEFAULT_VERSION}"
CRICTL_VERSION="${PYWR_CRICTL_VERSION:-v1.34.0}"   # the CRI v1 client nearest 1.33 the module proxy serves
KUBECTL="${PYWR_KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.1.33}"
NODE_NAME="${PYWR_NODE_NAME:-pywr-node}"
KUBELET_PORT="${PYWR_KUBELET_PORT:-10350}"
KUBELET_HEALTHZ_PORT="${PYWR_KUBELET_HEALTHZ_PORT:-10348}"
SCHED_PORT="${PYWR_KUBE_SCHEDULER_PORT:-10359}"
POD_SUBNET="${PYWR_POD_SUBNET:-10.213.0.0/24}"   # private: no NAT, no forwarding beyond the bridge
GATEWAY_IP="${PYWR_NODE_GATEWAY_IP:-${POD_SUBNET%.*}.1}"   # the host's address on the pod bridge
BRIDGE="pywr-cni0"
SERVICE_CIDR="${PYWR_KUBE_SERVICE_CIDR:-10.0.0.0/24}"    # kube.sh's --service-cluster-ip-range
APISERVER_PORT="${PYWR_KUBE_APISERVER_PORT:-16443}"
# 127.0.0.1 ports the pods reach on GATEWAY_IP:<port>: the API server and PostgreSQL (postgres.sh's PORT).
HOST_PORTS="${PYWR_NODE_HOST_PORTS:-$APISERVER_PORT 15432}"
PROXY_HEALTHZ_PORT="${PYWR_KUBE_PROXY_HEALTHZ_PORT:-10356}"
PROXY_METRICS_PORT="${PYWR_KUBE_PROXY_METRICS_PORT:-10349}"
KUBE_WAIT="${PYWR_NODE_KUBE_WAIT:-2400}"          # seconds to wait for kube.sh (a cold build takes ~15 min)
LOG_V="${PYWR_KUBE_LOG_VERBOSITY:-0}"

TAINT_KEY="pyworkflow.io/real-node"
TAINT="$TAINT_KEY=true:NoSchedule"
STORAGE_CLASS="pywr-local"

KUBE_BIN_DIR="$PYWR_CACHE/kube/$KUBE_VERSION/bin"
KUBELET_BIN="$KUBE_BIN_DIR/kubelet"
SCHED_BIN="$KUBE_BIN_DIR/kube-scheduler"
PROXY_BIN="$KUBE_BIN_DIR/kube-proxy"
CRICTL_DIR="$PYWR_CACHE/crictl/$CRICTL_VERSION"
CRICTL="$CRICTL_DIR/bin/crictl"

CACHE="$PYWR_CACHE/node"
BUILDAH_ROOT="$CACHE/buildah/root"
BUILDAH_RUNROOT="$PYWR_RUN/buildah-runroot"
BUILDAH=(buildah --root "$BUILDAH_ROOT" --runroot "$BUILDAH_RUNROOT" --storage-driver vfs)
IMAGE_RECIPE=1                                    # bump when build_image changes

RUN="$PYWR_RUN/node"
PKI="$RUN/pki"
KUBE_PKI="$PYWR_RUN/kube/pki"
ADMIN_KUBECONFIG="$PYWR_RUN/kube/admin.kubeconfig"
CTRD_DIR="$RUN/containerd"
CTRD_CONFIG="$CTRD_DIR/config.toml"
SOCK="$CTRD_DIR/containerd.sock"
CNI_CONF_DIR="$RUN/cni/net.d"
CNI_DATA_DIR="$RUN/cni/ipam"
KUBELET_ROOT="$RUN/kubelet"
POD_LOGS="$RUN/pod-logs"
KUBELET_CONFIG="$RUN/kubelet-config.yaml"
KUBELET_KUBECONFIG="$RUN/kubelet.kubeconfig"
SCHED_CONFIG="$RUN/scheduler-config.yaml"
SCHED_KUBECONFIG="$RUN/scheduler.kubeconfig"
PROXY_CONFIG="$RUN/kube-proxy-config.yaml"
PROXY_KUBECONFIG="$RUN/kube-proxy.kubeconfig"
CTRD_PID="$RUN/containerd.pid"; KUBELET_PID="$RUN/kubelet.pid"; SCHED_PID="$RUN/kube-scheduler.pid"; PROXY_PID="$RUN/kube-proxy.pid"
CTRD_LOG="$PYWR_LOGS/node-containerd.log"; KUBELET_LOG="$PYWR_LOGS/node-kubelet.log"; SCHED_LOG="$PYWR_LOGS/node-scheduler.log"
PROXY_LOG="$PYWR_LOGS/node-kube-proxy.log"; FORWARD_LOG="$PYWR_LOGS/node-forward.log"
APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"

kubectl_admin() { "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=10s "$@"; }
ctr_() { ctr -a "$SOCK" -n k8s.io "$@"; }

# ------------------------------------------------------------------------------------ packages

ensure_packages() {
  (( EUID == 0 )) || die "the real node needs root (containers, mounts, network namespaces)"
  # iptables and conntrack for kube-proxy (iptables mode), socat for the gateway's port forwarders,
  # iproute2 (ip, ss) and procps (sysctl) for the pod network.
  apt_install containerd runc containernetworking-plugins buildah busybox-static iptables conntrack socat iproute2 procps
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
    die "the CNI plugins are not in /usr/lib/cni (Debian's containernetworking-plugins)"
}

# ---------------------------------------------------------------------------------------- builds

# kubelet, kube-scheduler and kube-proxy in one `go build` (they share most packages), in kube.sh's
# wrapper module; only those missing from the cache (a cache from before kube-proxy builds just it).
build_node_binaries() {
  local cmds=() c
  [[ -x "$KUBELET_BIN" ]] || cmds+=(kubelet)
  [[ -x "$SCHED_BIN" ]] || cmds+=(kube-scheduler)
  [[ -x "$PROXY_BIN" ]] || cmds+=(kube-proxy)
  (( ${#cmds[@]} > 0 )) || return 0   # built while we waited for the lock
  go_env node
  local mod t=$SECONDS out="$KUBE_BIN_DIR/.node-build"
  mod="$(kube_module_dir)"
  if ! grep -qs "require k8s.io/kubernetes $KUBE_VERSION\$" "$mod/go.mod"; then
    log "preparing the k8s.io/kubernetes $KUBE_VERSION wrapper module"
    kube_wrapper_module "$mod"
  fi
  mkdir -p "$KUBE_BIN_DIR"; rm -rf "$out"; mkdir -p "$out"
  log "building ${cmds[*]} $KUBE_VERSION (go build k8s.io/kubernetes/cmd/...)"
  ( cd "$mod" && go build -ldflags "$(kube_ldflags)" -o "$out/" "${cmds[@]/#/k8s.io/kubernetes/cmd/}" ) ||
    die "go build of ${cmds[*]} $KUBE_VERSION failed"
  for c in "${cmds[@]}"; do mv "$out/$c" "$KUBE_BIN_DIR/$c"; done
  rm -rf "$out" "$GOCACHE"
  log "built ${cmds[*]} $KUBE_VERSION in $(( SECONDS - t )) s"
}

build_crictl() {
  [[ -x "$CRICTL" ]] && return 0
  go_env crictl
  local t=$SECONDS
  log "building crictl $CRICTL_VERSION (go build sigs.k8s.io/cri-tools/cmd/crictl)"
  rm -rf "$CRICTL_DIR/mod"; mkdir -p "$CRICTL_DIR/mod" "$CRICTL_DIR/bin"
  printf 'module pywr.local/crictl-build\n\ngo 1.24.0\n\nrequire sigs.k8s.io/cri-tools %s\n' "$CRICTL_VERSION" > "$CRICTL_DIR/mod/go.mod"
  ( cd "$CRICTL_DIR/mod"
    go mod download sigs.k8s.io/cri-tools
    go build -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" -o "$CRICTL.tmp" sigs.k8s.io/cri-tools/cmd/crictl
  ) || die "go build of crictl $CRICTL_VERSION failed"
  mv "$CRICTL.tmp" "$CRICTL"; rm -rf "$GOCACHE"
  log "built crictl $CRICTL_VERSION in $(( SECONDS - t )) s"
}

build_all() { build_node_binaries; build_crictl; }

ensure_binaries() {
  [[ -x "$KUBECTL" ]] || die "kubectl 1.33 not found at $KUBECTL (set PYWR_KUBECTL)"
  [[ -x "$KUBELET_BIN" && -x "$SCHED_BIN" && -x "$PROXY_BIN" && -x "$CRICTL" ]] || with_build_lock build_all
}

# ----------------------------------------------------------------------------------------- image

# One image serves as the sandbox image and as the test pods' image: busybox (static) with every
# applet linked in /bin, entrypoint `sleep` (what a pause container does), user 65532.
image_tag() {
  local v; v="$(dpkg-query -W -f '${Version}' busybox-static)"; v="${v#*:}"   # without the epoch
  printf '%s' "${v//[^A-Za-z0-9_.-]/-}-r$IMAGE_RECIPE"
}

build_image() {
  local image="$1" archive="$2" work ctr
  work="$(mktemp -d)"
  mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$BUILDAH_ROOT" "$BUILDAH_RUNROOT" "$(dirname "$archive")"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$work/rootfs/bin/$applet"
  done
  chmod 1777 "$work/rootfs/tmp"
  "${BUILDAH[@]}" rmi -f "$image" >/dev/null 2>&1 || true
  ctr="$("${BUILDAH[@]}" from scratch)"
  "${BUILDAH[@]}" copy "$ctr" "$work/rootfs" / >/dev/null
  "${BUILDAH[@]}" config --entrypoint '["/bin/sleep"]' --cmd 2147483647 --user 65532:65532 \
    --env PATH=/bin --workingdir / "$ctr"
  "${BUILDAH[@]}" commit -q "$ctr" "$image" >/dev/null
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
  "${BUILDAH[@]}" push -q "$image" "oci-archive:$archive.tmp:$image" >/dev/null
  mv "$archive.tmp" "$archive"
  rm -rf "$work"
}

ensure_image() {
  IMAGE="localhost/pywr/busybox:$(image_tag)"
  local archive; archive="$CACHE/images/busybox-$(image_tag).tar"
  if [[ ! -f "$archive" ]]; then
    local t=$SECONDS
    log "building image $IMAGE (buildah, vfs storage in $BUILDAH_ROOT)"
    build_image "$IMAGE" "$archive" || die "building $IMAGE failed"
    log "built $IMAGE in $(( SECONDS - t )) s"
  fi
  if ! ctr_ images ls -q | grep -xF "$IMAGE" >/dev/null; then
    ctr_ images import "$archive" >/dev/null || die "ctr images import $archive failed"
    ctr_ images ls -q | grep -xF "$IMAGE" >/dev/null || die "$archive imported, but containerd has no image named $IMAGE"
    log "imported $IMAGE into containerd"
  fi
}

# ------------------------------------------------------------------------------------ containerd

# install_file FILE < CONTENT: (re)writes FILE (mode 600) when its content differs; true when it did,
# so that `up` restarts a daemon whose configuration changed and leaves it running otherwise.
CTRD_CHANGED=0; KUBELET_CHANGED=0; SCHED_CHANGED=0; PROXY_CHANGED=0; KUBELET_STARTED_AT=
install_file() {
  local tmp="$1.new"
  ( umask 077; cat > "$tmp" )
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
  mv "$tmp" "$1"
}

write_containerd_config() {
  mkdir -p "$CTRD_DIR/root" "$CTRD_DIR/state" "$CTRD_DIR/opt" "$CNI_CONF_DIR" "$CNI_DATA_DIR"
  install_file "$CTRD_CONFIG" <<EOF && CTRD_CHANGED=1 || true
version = 2
root = "$CTRD_DIR/root"
state = "$CTRD_DIR/state"

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$CTRD_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$IMAGE"
  # This VM refuses the oom_score_adj of -998 runc would set for the sandbox: without this every
  # sandbox fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
EOF
  # The gateway address on the host (isGateway) is where kube-proxy's rules and the port forwarders are;
  # the pods' only route beyond their subnet is the Service CIDR through it (no default route: any other
  # destination is unreachable at once), no masquerading (ensure_firewall drops the rest). Written whole
  # (install_file renames): containerd reloads on the first write event, and a half-written file then
  # left it on the old network; a changed network restarts containerd so that new pods get it for sure.
  install_file "$CNI_CONF_DIR/10-pywr.conflist" <<EOF && CTRD_CHANGED=1 || true
{
  "cniVersion": "1.0.0",
  "name": "pywr-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_SUBNET", "gateway": "$GATEWAY_IP" }]],
        "routes": [{ "dst": "$SERVICE_CIDR", "gw": "$GATEWAY_IP" }],
        "dataDir": "$CNI_DATA_DIR"
      }
    }
  ]
}
EOF
}

containerd_ready() { ctr -a "$SOCK" version >/dev/null 2>&1; }

start_containerd() {
  write_containerd_config
  if running "$CTRD_PID" "$CTRD_CONFIG" && (( CTRD_CHANGED )); then
    log "containerd's configuration changed: restarting it (running containers keep running)"
    stop_daemon "$CTRD_PID"
  fi
  if running "$CTRD_PID" "$CTRD_CONFIG"; then
    containerd_ready && return 0
    wait_for containerd 30 containerd_ready || fail_start "containerd (pid $(cat "$CTRD_PID")) runs but does not answer on $SOCK" "$CTRD_LOG"
    return 0
  fi
  start_daemon containerd "$CTRD_PID" "$CTRD_LOG" containerd --config "$CTRD_CONFIG"
  wait_for containerd 60 containerd_ready || fail_start "containerd did not answer on $SOCK within 60 s" "$CTRD_LOG"
}

# ------------------------------------------------------------------------------- pod network

# The bridge and its gateway address exist before any pod (the forwarders bind to the address); the CNI
# bridge plugin finds them as it would have made them.
ensure_bridge() {
  local prefix="${POD_SUBNET#*/}" other net
  # A machine whose own networks overlap ours would have its traffic captured by the bridge.
  for net in "$POD_SUBNET" "$SERVICE_CIDR"; do
    other="$( { ip -4 -o route show to match "$net"; ip -4 -o route show root "$net"; } | grep -v -e '^default ' -e " dev $BRIDGE " || true)"
    [[ -z "$other" ]] || die "the network $net is already routed on this machine ($other): set PYWR_POD_SUBNET (and PYWR_NODE_GATEWAY_IP)"
  done
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge || die "cannot create the bridge $BRIDGE"
  ip addr replace "$GATEWAY_IP/$prefix" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Forwarding for packets that arrive on the bridge only (IPv4 decides per incoming interface): a pod's
  # packet to a ClusterIP is DNATed to another pod and routed back onto the bridge. The machine's other
  # interfaces keep their setting (net.ipv4.ip_forward is not touched).
  sysctl -qw "net.ipv4.conf.$BRIDGE.forwarding=1"
  # The reply of a pod reached through a ClusterIP goes straight back across the bridge to the client
  # pod: only bridged traffic that passes iptables gets kube-proxy's DNAT undone (what kube-proxy
  # expects of a bridge CNI). Already on where the kernel has br_netfilter built in, as on this machine kind.
  [[ -f /proc/sys/net/bridge/bridge-nf-call-iptables ]] ||
    die "no /proc/sys/net/bridge/bridge-nf-call-iptables: the kernel lacks br_netfilter (modprobe br_netfilter)"
  [[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" == 1 ]] || sysctl -qw net.bridge.bridge-nf-call-iptables=1
  # The host's own connections to ClusterIPs leave from the gateway address, never towards eth0's router.
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$GATEWAY_IP"
}

# iptables (filter table) chains of our own, jumped to first from INPUT and FORWARD.
ensure_firewall() {
  local ports chain; ports="$(tr ' ' ',' <<< "$HOST_PORTS")"
  for chain in PYWR-NODE-INPUT PYWR-NODE-FORWARD; do
    iptables -w -N "$chain" 2>/dev/null || iptables -w -F "$chain"
  done
  # Pods may reach the host only at the forwarded ports of the gateway (and answer the host's own
  # connections: the kubelet's probes, the tests); nobody else may reach the pod subnet or the gateway.
  iptables -w -A PYWR-NODE-INPUT -i lo -j RETURN
  iptables -w -A PYWR-NODE-INPUT -i "$BRIDGE" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
  iptables -w -A PYWR-NODE-INPUT -i "$BRIDGE" -d "$GATEWAY_IP" -p tcp -m multiport --dports "$ports" -j RETURN
  iptables -w -A PYWR-NODE-INPUT -i "$BRIDGE" -j DROP
  iptables -w -A PYWR-NODE-INPUT -d "$POD_SUBNET" -j DROP
  # Pod to pod (also through a ClusterIP) only: nothing from the bridge leaves it, nothing enters it.
  iptables -w -A PYWR-NODE-FORWARD -i "$BRIDGE" -o "$BRIDGE" -j RETURN
  iptables -w -A PYWR-NODE-FORWARD -i "$BRIDGE" -j DROP
  iptables -w -A PYWR-NODE-FORWARD -o "$BRIDGE" -j DROP
  firewall_first
}

# Our jumps come first in INPUT and FORWARD, before kube-proxy's (which prepends its own when they are
# missing, and leaves them where they are afterwards): its KUBE-FORWARD accepts masqueraded traffic
# that our chain must be able to drop first. Called again once kube-proxy has set up its chains.
firewall_first() {
  local hook
  for hook in INPUT FORWARD; do
    [[ "$(iptables -w -S "$hook" | sed -n 2p)" == "-A $hook -j PYWR-NODE-$hook" ]] && continue
    while iptables -w -D "$hook" -j "PYWR-NODE-$hook" 2>/dev/null; do :; done
    iptables -w -I "$hook" 1 -j "PYWR-NODE-$hook"
  done
}

remove_firewall() {
  local hook
  for hook in INPUT FORWARD; do
    while iptables -w -D "$hook" -j "PYWR-NODE-$hook" 2>/dev/null; do :; done
    iptables -w -F "PYWR-NODE-$hook" 2>/dev/null || true
    iptables -w -X "PYWR-NODE-$hook" 2>/dev/null || true
  done
}

forward_pidfile() { printf '%s' "$RUN/forward-$1.pid"; }
forward_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -qF "$GATEWAY_IP:$1"; }

# A socat per port: GATEWAY_IP:<port> -> 127.0.0.1:<port> (a child per connection; stop_daemon ends
# the process group, children included).
start_forwarders() {
  local port pidfile
  for port in $HOST_PORTS; do
    pidfile="$(forward_pidfile "$port")"
    if running "$pidfile" "bind=$GATEWAY_IP," && forward_listening "$port"; then continue; fi
    stop_daemon "$pidfile"
    start_daemon "forwarder $GATEWAY_IP:$port -> 127.0.0.1:$port" "$pidfile" "$FORWARD_LOG" \
      socat "TCP-LISTEN:$port,bind=$GATEWAY_IP,reuseaddr,fork,backlog=128" "TCP:127.0.0.1:$port"
    wait_for "forwarder $GATEWAY_IP:$port" 20 forward_listening "$port" ||
      fail_start "the forwarder did not listen on $GATEWAY_IP:$port within 20 s" "$FORWARD_LOG"
  done
}

forwarders_running() {
  local port
  for port in $HOST_PORTS; do
    running "$(forward_pidfile "$port")" "bind=$GATEWAY_IP," && forward_listening "$port" || return 1
  done
}

stop_forwarders() {
  local f
  for f in "$RUN"/forward-*.pid; do [[ -e "$f" ]] && stop_daemon "$f"; done
  return 0
}

# -------------------------------------------------------------------------- certificates, configs

kube_ready() {
  [[ -f "$ADMIN_KUBECONFIG" && -f "$KUBE_PKI/ca.key" ]] && kubectl_admin get --raw /readyz >/dev/null 2>&1
}

wait_for_kube() {
  kube_ready && return 0
  log "waiting for kube.sh's API server (up to $KUBE_WAIT s)"
  local start=$SECONDS
  until kube_ready; do
    if (( SECONDS - start >= KUBE_WAIT )); then die "the API server of kube.sh is not ready after $KUBE_WAIT s: run \`scripts/env/up.sh kube\`"; fi
    # Only worth waiting while kube.sh is still coming up (a `kube.sh up` process exists).
    if (( SECONDS - start >= 60 )) && ! pgrep -f 'components/kube\.sh up' >/dev/null; then
      die "the API server of kube.sh is not ready and no \`kube.sh up\` runs: run \`scripts/env/up.sh kube\` first"
    fi
    sleep 2
  done
  log "API server ready after $(( SECONDS - start )) s"
}

# client_cert NAME SUBJECT: a client certificate from kube.sh's cluster CA (re-made when that CA changed).
client_cert() {
  local name="$1" subj="$2"
  if [[ -f "$PKI/$name.crt" ]] && openssl verify -CAfile "$KUBE_PKI/ca.crt" "$PKI/$name.crt" >/dev/null 2>&1; then return 0; fi
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$KUBE_PKI/ca.crt" -CAkey "$KUBE_PKI/ca.key" -CAcreateserial \
    -CAserial "$PKI/ca.srl" -days 3650 -sha256 \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n') \
    -out "$PKI/$name.crt.tmp" 2>/dev/null
  mv "$PKI/$name.crt.tmp" "$PKI/$name.crt"; rm -f "$PKI/$name.csr"
}

# write_kubeconfig FILE USER CERT: true when the file changed.
write_kubeconfig() {
  kubeconfig_text "$APISERVER_URL" "$KUBE_PKI/ca.crt" "$2" "$PKI/$3.crt" "$PKI/$3.key" | install_file "$1"
}

write_node_config() {
  mkdir -p "$PKI" "$KUBELET_ROOT" "$POD_LOGS"; chmod 700 "$PKI"
  # The kubelet's own identity, so the Node authorizer and NodeRestriction apply as on a cluster.
  client_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
  client_cert kube-scheduler "/CN=system:kube-scheduler"
  # The user the bootstrap ClusterRoleBinding system:node-proxier grants kube-proxy's rights to.
  client_cert kube-proxy "/CN=system:kube-proxy"
  write_kubeconfig "$KUBELET_KUBECONFIG" "system:node:$NODE_NAME" kubelet && KUBELET_CHANGED=1 || true
  write_kubeconfig "$SCHED_KUBECONFIG" system:kube-scheduler kube-scheduler && SCHED_CHANGED=1 || true
  write_kubeconfig "$PROXY_KUBECONFIG" system:kube-proxy kube-proxy && PROXY_CHANGED=1 || true
  install_file "$KUBELET_CONFIG" <<EOF && KUBELET_CHANGED=1 || true
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# 127.0.0.1 only; callers need a client certificate of the cluster CA (no anonymous access).
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $KUBE_PKI/ca.crt}
authorization: {mode: AlwaysAllow}
# This machine kind: cgroup v1 without systemd, swap possible, no iptables management wanted.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$SOCK
enforceNodeAllocatable: []
localStorageCapacityIsolation: false
makeIPTablesUtilChains: false
registerWithTaints:
- {key: $TAINT_KEY, value: "true", effect: NoSchedule}
podLogsDir: $POD_LOGS
volumePluginDir: $KUBELET_ROOT/volume-plugins
# The images are imported, never pulled: never garbage-collect them, never evict on disk usage.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
rotateCertificates: false
serializeImagePulls: false
EOF
  install_file "$SCHED_CONFIG" <<EOF && SCHED_CHANGED=1 || true
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $SCHED_KUBECONFIG
  qps: 50
  burst: 100
leaderElection:
  leaderElect: false
# The scheduler serves the real node only: every pod it places gets this node affinity, so the test
# nodes of test/support/test-node.ts (which bind their pods themselves) never receive a pod from it,
# even those of a branch whose test node predates its taint.
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeAffinity
    args:
      addedAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          nodeSelectorTerms:
          - matchExpressions:
            - {key: $TAINT_KEY, operator: In, values: ["true"]}
EOF
  install_file "$PROXY_CONFIG" <<EOF && PROXY_CHANGED=1 || true
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $PROXY_KUBECONFIG
mode: iptables
hostnameOverride: $NODE_NAME
# Its own endpoints on 127.0.0.1; NodePorts (and health-check node ports) only on the gateway address,
# never on the VM's interfaces nor on 127.0.0.1 (that would need route_localnet).
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
nodePortAddresses: ["$GATEWAY_IP/32"]
# Pod traffic is what comes from the pod subnet; traffic from elsewhere to a ClusterIP is masqueraded.
clusterCIDR: $POD_SUBNET
detectLocalMode: ClusterCIDR
iptables:
  localhostNodePorts: false
  minSyncPeriod: 1s
# This VM refuses a negative oom_score_adj (see restrict_oom_score_adj above); the conntrack table
# sizes and timeouts stay as the machine has them.
oomScoreAdj: 0
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# ------------------------------------------------------------------------------------ processes

fail_start() { tail_log "$2"; die "$1"; }

kubelet_healthy() { [[ "$(curl -sS -m 3 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" 2>/dev/null)" == ok ]]; }
sched_healthy() { [[ "$(curl -ksS -m 3 "https://127.0.0.1:$SCHED_PORT/healthz" 2>/dev/null)" == ok ]]; }
proxy_healthy() { curl -fsS -m 3 "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz" >/dev/null 2>&1; }
# node_ready [SINCE]: the Node is Ready and, when SINCE (epoch seconds) is given, the kubelet renewed
# its Lease at or after SINCE: after a restart the Node still shows the previous kubelet's Ready until
# the node lifecycle controller's grace period ends.
node_ready() {
  [[ "$(kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]] || return 1
  [[ -n "${1:-}" ]] || return 0
  local renewed
  renewed="$(kubectl_admin -n kube-node-lease get lease "$NODE_NAME" -o 'jsonpath={.spec.renewTime}' 2>/dev/null)" || return 1
  [[ -n "$renewed" ]] && (( $(date -d "$renewed" +%s) >= $1 ))
}

start_kubelet() {
  if running "$KUBELET_PID" "$KUBELET_BIN" && (( KUBELET_CHANGED )); then
    log "the kubelet's configuration changed: restarting it"
    stop_daemon "$KUBELET_PID"
  fi
  if running "$KUBELET_PID" "$KUBELET_BIN"; then
    kubelet_healthy && return 0
    wait_for kubelet 60 kubelet_healthy || fail_start "the kubelet (pid $(cat "$KUBELET_PID")) runs but is not healthy" "$KUBELET_LOG"
    return 0
  fi
  for p in "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT"; do
    port_in_use "$p" && die "port 127.0.0.1:$p is used by another process (set PYWR_KUBELET_PORT / PYWR_KUBELET_HEALTHZ_PORT)"
  done
  KUBELET_STARTED_AT="$(date +%s)"
  start_daemon kubelet "$KUBELET_PID" "$KUBELET_LOG" "$KUBELET_BIN" \
    --config="$KUBELET_CONFIG" --kubeconfig="$KUBELET_KUBECONFIG" --root-dir="$KUBELET_ROOT" \
    --hostname-override="$NODE_NAME" --node-labels="$TAINT_KEY=true" --v="$LOG_V"
  wait_for kubelet 90 kubelet_healthy || fail_start "the kubelet did not become healthy within 90 s" "$KUBELET_LOG"
}

start_scheduler() {
  if running "$SCHED_PID" "$SCHED_BIN" && (( SCHED_CHANGED )); then
    log "kube-scheduler's configuration changed: restarting it"
    stop_daemon "$SCHED_PID"
  fi
  if running "$SCHED_PID" "$SCHED_BIN"; then
    sched_healthy && return 0
    wait_for kube-scheduler 60 sched_healthy || fail_start "kube-scheduler (pid $(cat "$SCHED_PID")) runs but is not healthy" "$SCHED_LOG"
    return 0
  fi
  port_in_use "$SCHED_PORT" && die "port 127.0.0.1:$SCHED_PORT is used by another process (set PYWR_KUBE_SCHEDULER_PORT)"
  start_daemon kube-scheduler "$SCHED_PID" "$SCHED_LOG" "$SCHED_BIN" \
    --config="$SCHED_CONFIG" \
    --authentication-kubeconfig="$SCHED_KUBECONFIG" --authorization-kubeconfig="$SCHED_KUBECONFIG" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --v="$LOG_V"
  wait_for kube-scheduler 60 sched_healthy || fail_start "kube-scheduler did not become healthy within 60 s" "$SCHED_LOG"
}

start_kube_proxy() {
  if running "$PROXY_PID" "$PROXY_BIN" && (( PROXY_CHANGED )); then
    log "kube-proxy's configuration changed: restarting it"
    stop_daemon "$PROXY_PID"
  fi
  if running "$PROXY_PID" "$PROXY_BIN"; then
    proxy_healthy && return 0
    wait_for kube-proxy 60 proxy_healthy || fail_start "kube-proxy (pid $(cat "$PROXY_PID")) runs but is not healthy" "$PROXY_LOG"
    return 0
  fi
  for p in "$PROXY_HEALTHZ_PORT" "$PROXY_METRICS_PORT"; do
    port_in_use "$p" && die "port 127.0.0.1:$p is used by another process (set PYWR_KUBE_PROXY_HEALTHZ_PORT / PYWR_KUBE_PROXY_METRICS_PORT)"
  done
  start_daemon kube-proxy "$PROXY_PID" "$PROXY_LOG" "$PROXY_BIN" --config="$PROXY_CONFIG" --v="$LOG_V"
  wait_for kube-proxy 60 proxy_healthy || fail_start "kube-proxy did not become healthy within 60 s" "$PROXY_LOG"
}

# kube.sh runs the API server with --advertise-address=127.0.0.1 and --endpoint-reconciler-type=none
# (an Endpoints address may not be a loopback one), so the `kubernetes` Service has no endpoints of the
# API server's making: this EndpointSlice names the gateway, where the forwarder of the API server's
# port listens. Its own managed-by value: the EndpointSlice controller leaves it alone.
ensure_kubernetes_endpoints() {
  local port_name
  port_name="$(kubectl_admin -n default get service kubernetes -o 'jsonpath={.spec.ports[0].name}')" ||
    die "cannot read the kubernetes Service"
  kubectl_admin apply -f - >/dev/null <<EOF || die "cannot write the kubernetes Service's EndpointSlice"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: node.sh.pyworkflow.io
addressType: IPv4
endpoints:
- addresses: ["$GATEWAY_IP"]
  conditions: {ready: true}
ports:
- {name: "$port_name", port: $APISERVER_PORT, protocol: TCP}
EOF
}

# The whole path a pod's in-cluster client takes, from the host: the Service's ClusterIP (kube-proxy's
# DNAT), the forwarder on the gateway, the API server's certificate for that IP.
kubernetes_service_reachable() {
  local ip; ip="$(kubectl_admin -n default get service kubernetes -o 'jsonpath={.spec.clusterIP}')" || return 1
  "$KUBECTL" --kubeconfig "$ADMIN_KUBECONFIG" --server "https://$ip:443" --request-timeout=5s get --raw /readyz >/dev/null 2>&1
}

ensure_storage_class() {
  kubectl_admin apply -f - >/dev/null <<EOF || die "cannot create StorageClass $STORAGE_CLASS"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  labels: {pyworkflow.io/real-node: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
}

publish() {
  write_env node \
    "PYWR_NODE_NAME=$NODE_NAME" \
    "PYWR_NODE_TAINT=$TAINT" \
    "PYWR_NODE_IMAGE=$IMAGE" \
    "PYWR_NODE_STORAGE_CLASS=$STORAGE_CLASS" \
    "PYWR_NODE_POD_LOGS_DIR=$POD_LOGS" \
    "PYWR_NODE_POD_SUBNET=$POD_SUBNET" \
    "PYWR_NODE_GATEWAY_IP=$GATEWAY_IP" \
    "PYWR_NODE_HOST_PORTS=${HOST_PORTS// /,}" \
    "PYWR_NODE_SERVICE_CIDR=$SERVICE_CIDR" \
    "PYWR_NODE_KUBELET_ROOT=$KUBELET_ROOT" \
    "PYWR_CONTAINERD_ADDRESS=$SOCK" \
    "PYWR_CONTAINERD_NAMESPACE=k8s.io" \
    "PYWR_CRICTL=$CRICTL" \
    "PYWR_BUILDAH_ROOT=$BUILDAH_ROOT" \
    "PYWR_BUILDAH_RUNROOT=$BUILDAH_RUNROOT" \
    "PYWR_BUILDAH_STORAGE_DRIVER=vfs" \
    "PYWR_NODE_ENV_SCRIPT=$SELF"
}

save_settings() {
  mkdir -p "$RUN"
  cat > "$SETTINGS" <<EOF
PYWR_KUBE_VERSION=$KUBE_VERSION
PYWR_CRICTL_VERSION=$CRICTL_VERSION
PYWR_KUBECTL=$KUBECTL
PYWR_NODE_NAME=$NODE_NAME
PYWR_KUBELET_PORT=$KUBELET_PORT
PYWR_KUBELET_HEALTHZ_PORT=$KUBELET_HEALTHZ_PORT
PYWR_KUBE_SCHEDULER_PORT=$SCHED_PORT
PYWR_POD_SUBNET=$POD_SUBNET
PYWR_NODE_GATEWAY_IP=$GATEWAY_IP
PYWR_KUBE_SERVICE_CIDR=$SERVICE_CIDR
PYWR_KUBE_APISERVER_PORT=$APISERVER_PORT
PYWR_NODE_HOST_PORTS="$HOST_PORTS"
PYWR_KUBE_PROXY_HEALTHZ_PORT=$PROXY_HEALTHZ_PORT
PYWR_KUBE_PROXY_METRICS_PORT=$PROXY_METRICS_PORT
EOF
}

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

up_node() {
  local t=$SECONDS
  save_settings
  ensure_packages
  ensure_bridge
  ensure_firewall
  IMAGE="localhost/pywr/busybox:$(image_tag)"
  start_containerd
  ensure_image
  ensure_binaries
  wait_for_kube
  write_node_config
  start_forwarders
  start_kubelet
  start_scheduler
  start_kube_proxy
  firewall_first
  wait_for "node $NODE_NAME Ready" 120 node_ready "$KUBELET_STARTED_AT" || fail_start "node $NODE_NAME did not become Ready within 120 s" "$KUBELET_LOG"
  ensure_kubernetes_endpoints
  wait_for "the API server through the kubernetes Service (kube-proxy, forwarder)" 60 kubernetes_service_reachable ||
    fail_start "the API server does not answer at the kubernetes Service's ClusterIP within 60 s" "$PROXY_LOG"
  ensure_storage_class
  publish
  log "node $NODE_NAME up ($(kubectl_admin get node "$NODE_NAME" -o 'jsonpath={.status.nodeInfo.containerRuntimeVersion}'), image $IMAGE) in $(( SECONDS - t )) s"
}

# ----------------------------------------------------------------------------------------- down

# Processes whose command line mentions our containerd socket: the shims of its containers.
shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q "containerd-shim.*-address $SOCK" && echo "${p#/proc/}"
  done
  return 0
}

# Every mount under our run directory, deepest first.
our_mounts() { awk -v root="$RUN/" 'index($5, root) == 1 || $5 == substr(root, 1, length(root) - 1) { print $5 }' /proc/self/mountinfo | sort -r; }

down_node() {
  stop_daemon "$PROXY_PID"
  # kube-proxy's chains and rules (KUBE-*) go with it.
  if [[ -x "$PROXY_BIN" ]]; then timeout 60 "$PROXY_BIN" --cleanup >>"$PROXY_LOG" 2>&1 || log "kube-proxy --cleanup failed (see $PROXY_LOG)"; fi
  stop_forwarders
  stop_daemon "$SCHED_PID"
  stop_daemon "$KUBELET_PID"
  if running "$CTRD_PID" "$CTRD_CONFIG" && containerd_ready && [[ -x "$CRICTL" ]]; then
    # Through the CRI, so that each sandbox's network is torn down (CNI DEL) and its netns removed.
    timeout 120 "$CRICTL" -r "unix://$SOCK" -t 30s rmp --all --force >/dev/null 2>&1 ||
      log "crictl rmp --all --force failed; killing the containers instead"
  fi
  stop_daemon "$CTRD_PID"
  local pids; pids="$(shim_pids)"
  if [[ -n "$pids" ]]; then
    log "killing leftover shims: $(echo $pids)"
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  fi
  local m n=0
  while read -r m; do
    [[ -n "$m" ]] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
    n=$(( n + 1 ))
  done < <(our_mounts)
  (( n == 0 )) || log "unmounted $n leftover mounts under $RUN"
  # The kubelet recreates the pod directories of pods still bound here; stale ones only make noise.
  # --one-file-system: never delete through a mount that survived the unmounting above.
  if [[ -d "$KUBELET_ROOT/pods" && -z "$(our_mounts)" ]]; then rm -rf --one-file-system "$KUBELET_ROOT/pods"; fi
  # The pod network: the service route and the bridge (no pod is left on it), then our chains.
  ip route del "$SERVICE_CIDR" dev "$BRIDGE" 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  remove_firewall
  log "node stopped (containerd data kept in $CTRD_DIR)"
}

status_node() {
  running "$CTRD_PID" "$CTRD_CONFIG" && containerd_ready &&
    running "$KUBELET_PID" "$KUBELET_BIN" && kubelet_healthy &&
    running "$SCHED_PID" "$SCHED_BIN" && sched_healthy &&
    running "$PROXY_PID" "$PROXY_BIN" && proxy_healthy && forwarders_running && node_ready
}

case "${1:-}" in
  up)
    # In a child bash so that `set -e` holds inside (it is off in an `if` condition); each step's
    # failure has already printed its log tail.
    if bash "$SELF" up-strict; then exit 0; fi
    if [[ "${CI:-}" == true ]]; then die "the real node did not come up (logs: $PYWR_LOGS/node-*.log)"; fi
    rm -f "$PYWR_RUN/env.d/node.env"
    log "WARNING: the real node did not come up; its variables are not published (CI=true makes this fatal)"
    ;;
  up-strict) up_node ;;
  build) ensure_binaries ;;
  down) down_node ;;
  status) status_node ;;
  # After an API server restart (kube.sh restart-apiserver): see restart_kcm there. kube-proxy's
  # informers have the same backoff (new Services and endpoints would wait for it); its rules stay in
  # place while it restarts.
  restart-scheduler)
    stop_daemon "$SCHED_PID"; write_node_config; start_scheduler
    if [[ -f "$PROXY_PID" ]]; then stop_daemon "$PROXY_PID"; start_kube_proxy; firewall_first; fi
    ;;
  *) echo "usage: $0 up|down|status|build|restart-scheduler" >&2; exit 2 ;;
esac
