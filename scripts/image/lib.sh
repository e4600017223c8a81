# Shared settings of the image scripts. Sourced, never run.
# Everything built here lives under $PYWR_IMAGE_CACHE (outside the repo, reused across runs): the
# Node.js and npm packages, the two local base images as tarballs, buildah's own image store (vfs
# driver, so it needs neither overlayfs nor a daemon) and the OCI archives of the built images.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYWR_CACHE="${PYWR_CACHE:-$HOME/.cache/pyworkflow-retention}"
PYWR_IMAGE_CACHE="${PYWR_IMAGE_CACHE:-$PYWR_CACHE/image}"
mkdir -p "$PYWR_IMAGE_CACHE"

IMAGE_NAME="localhost/pyworkflow-retention-operator"

# buildah with a store of its own: no clash with another tool's storage driver on the same machine.
BUILDAH=(buildah --root "$PYWR_IMAGE_CACHE/storage" --runroot "$PYWR_IMAGE_CACHE/runroot" --storage-driver vfs)

log() { printf '[image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# hash_files FILE...: one sha256 over the paths and contents of FILE... (order-independent).
hash_files() {
  local f
  for f in "$@"; do printf '%s %s\n' "$(sha256sum < "$f" | cut -d' ' -f1)" "$f"; done | LC_ALL=C sort -k2 | sha256sum | cut -c1-64
}

# have_image REF: true when buildah's store holds REF.
have_image() { "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# sri_of FILE: the file's npm-style sha512 integrity string.
sri_of() { node -e 'process.stdout.write("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$1"; }

# with_image_lock COMMAND...: one image build at a time (2 cores; the store is not for concurrent writers).
with_image_lock() {
  ( flock 9; "$@" ) 9>"$PYWR_IMAGE_CACHE/.lock"
}

# apt_install PKG...: installs the Debian packages that are missing (idempotent; waits for another
# installer's dpkg lock instead of failing).
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  (( ${#missing[@]} == 0 )) && return 0
  log "apt-get install ${missing[*]}"
  ( flock 8
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1 || apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
  ) 8>"$PYWR_CACHE/.apt.lock"
}

# podman on the same store as buildah. runc, not crun: crun refuses this machine kind's hybrid cgroup
# layout. The ulimits are lowered explicitly: podman's defaults exceed the hard limits here and runc
# may not raise them (no CAP_SYS_RESOURCE).
PODMAN=(podman --root "$PYWR_IMAGE_CACHE/storage" --runroot "$PYWR_IMAGE_CACHE/runroot" --storage-driver vfs
  --runtime runc --cgroup-manager cgroupfs --events-backend none)
PODMAN_RUN_LIMITS=(--ulimit nofile=8192:8192 --ulimit nproc=8192:8192)
