#!/usr/bin/env bash
# Helm CLI for the tests: built with `go build` from helm.sh/helm/v3 (cmd/helm) into
# $PYWR_CACHE/helm/<version>/bin/helm, once per version. Nothing runs: `up` only builds and publishes
# HELM=<path>. Usage: helm.sh up|down|status
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

HELM_VERSION="${PYWR_HELM_VERSION:-v3.19.5}"   # built against client-go v0.34: in Helm's skew for Kubernetes 1.33
# The Kubernetes version helm reports as its default capabilities (`helm template`, `helm lint` without a
# cluster). helm's Makefile sets it with linker flags from the client-go it builds against (v0.34 →
# 1.34); a plain `go build` leaves helm's fallback v1.20, which fails any chart with kubeVersion >=1.28.
# build_helm checks it against helm's go.mod. The cache directory is keyed by it, so a binary built
# with other flags is never reused.
HELM_KUBE_VERSION="${PYWR_HELM_KUBE_VERSION:-1.34}"
HELM_DIR="$PYWR_CACHE/helm/$HELM_VERSION-k8s$HELM_KUBE_VERSION"
HELM_BIN="$HELM_DIR/bin/helm"

build_helm() {
  [[ -x "$HELM_BIN" ]] && return 0          # another build finished while we waited for the lock
  go_env helm
  local t=$SECONDS mod="$HELM_DIR/mod"
  log "building helm $HELM_VERSION (go build helm.sh/helm/v3/cmd/helm)"
  rm -rf "$mod"; mkdir -p "$mod" "$HELM_DIR/bin"
  # A throw-away wrapper module pins helm's version; `-mod=mod` resolves the rest from helm's go.mod.
  cat > "$mod/go.mod" <<EOF
module pywr.local/helm-build

go 1.24.0

require helm.sh/helm/v3 $HELM_VERSION
EOF
  ( cd "$mod"
    go mod download helm.sh/helm/v3
    # The official release's version flags (helm's Makefile): the client-go minor version is the
    # Kubernetes minor version, for chartutil (default capabilities) and lint/rules (deprecations).
    client_go="$(go list -m -f '{{.Version}}' k8s.io/client-go)"          # e.g. v0.34.2
    [[ "$client_go" =~ ^v0\.([0-9]+)\. ]] || die "unexpected k8s.io/client-go version $client_go"
    [[ "1.${BASH_REMATCH[1]}" == "$HELM_KUBE_VERSION" ]] \
      || die "helm $HELM_VERSION builds against client-go $client_go (Kubernetes 1.${BASH_REMATCH[1]}), not $HELM_KUBE_VERSION: set PYWR_HELM_KUBE_VERSION"
    local major=1 minor="${BASH_REMATCH[1]}" flags="-s -w"
    flags+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
    flags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
    flags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
    go build -ldflags "$flags" -o "$HELM_BIN.tmp" helm.sh/helm/v3/cmd/helm
  ) || die "go build of helm $HELM_VERSION failed"
  mv "$HELM_BIN.tmp" "$HELM_BIN"
  rm -rf "$GOCACHE"
  log "built helm $HELM_VERSION in $(( SECONDS - t )) s"
}

healthy() { [[ -x "$HELM_BIN" ]] && "$HELM_BIN" version --short >/dev/null 2>&1; }

case "${1:-}" in
  up)
    [[ -x "$HELM_BIN" ]] || with_build_lock build_helm
    healthy || die "helm at $HELM_BIN does not run ($("$HELM_BIN" version --short 2>&1 | tail -n 1))"
    log "helm $("$HELM_BIN" version --short) at $HELM_BIN"
    write_env helm "HELM=$HELM_BIN" "HELM_VERSION=$HELM_VERSION"
    ;;
  down) : ;;   # nothing runs
  status) healthy ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
