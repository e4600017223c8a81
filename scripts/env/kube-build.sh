# Building Kubernetes commands from the upstream Go modules: shared by kube.sh (kube-apiserver,
# kube-controller-manager) and node.sh (kubelet, kube-scheduler), which build in the same wrapper
# module so that every binary of the test cluster is the same version. Sourced, never run; callers
# set KUBE_VERSION.

KUBE_DEFAULT_VERSION=v1.33.13   # matches kubectl 1.33 on the machine

kube_module_dir() { printf '%s' "$PYWR_CACHE/kube/$KUBE_VERSION/mod"; }

# The wrapper module requires k8s.io/kubernetes and pins every staging module its go.mod replaces
# with ./staging/src/... to the matching published v0.x.y (those replaces do not apply to a dependency).
kube_wrapper_module() {
  local mod="$1" staging="v0.${KUBE_VERSION#v1.}" gomod
  rm -rf "$mod"; mkdir -p "$mod"
  printf 'module pywr.local/kube-build\n\ngo 1.24.0\n' > "$mod/go.mod"
  gomod="$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$gomod" ]] || die "could not download k8s.io/kubernetes@$KUBE_VERSION"
  local replaces
  replaces="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/k8s\.io/.*$#\t\1 => \1 '"$staging"'#p' "$gomod")"
  [[ -n "$replaces" ]] || die "no staging replace block found in $gomod"
  cat > "$mod/go.mod" <<EOF
module pywr.local/kube-build

go 1.24.0

require k8s.io/kubernetes $KUBE_VERSION

replace (
$replaces
)
EOF
}

kube_ldflags() {
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local v
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    v+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  printf '%s' "-s -w$v"
}
