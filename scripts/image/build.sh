#!/usr/bin/env bash
# `npm run image`: builds the Dockerfile with buildah (daemonless, vfs storage) on the local bases of
# scripts/image/bases.sh, reports the image's size and what takes it, writes it to an OCI archive
# under the cache, and imports it into the test node's containerd when that is up. The LAST line
# printed (stdout) is the image reference; everything else goes to stderr.
# The tag carries a hash of every input of the build (the build context's files, the Dockerfile and
# the bases): with unchanged inputs nothing is rebuilt and a re-run takes seconds.
# Env: PYWR_CONTAINERD_ADDRESS (else read from .test-env/env) to import into containerd.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
started=$SECONDS

apt_install buildah mmdebstrap runc podman

# The files the build context holds (the allow-list of .dockerignore), plus the Dockerfile.
context_files() {
  printf '%s\n' Dockerfile .dockerignore package.json package-lock.json tsconfig.json \
    scripts/image/prune-node-modules.mjs scripts/image/check-load.mjs
  find src -type f | LC_ALL=C sort
}

build_image() {
  local bases; bases="$(bash "$REPO_ROOT/scripts/image/bases.sh")"
  local build_base runtime_base
  build_base="$(sed -n 's/^BUILD_IMAGE=//p' <<<"$bases")"
  runtime_base="$(sed -n 's/^RUNTIME_IMAGE=//p' <<<"$bases")"
  [[ -n "$build_base" && -n "$runtime_base" ]] || die "scripts/image/bases.sh printed no base images"

  local version hash
  version="$(node -p 'require("./package.json").version')"
  mapfile -t files < <(context_files)
  hash="$( { hash_files "${files[@]}"; echo "$build_base $runtime_base"; } | sha256sum | cut -c1-12)"
  REF="$IMAGE_NAME:$version-$hash"
  ARCHIVE="$PYWR_IMAGE_CACHE/archives/pyworkflow-retention-operator-$version-$hash.oci.tar"

  if have_image "$REF" && [[ -f "$ARCHIVE" ]]; then
    log "$REF is up to date (inputs unchanged)"
    return 0
  fi

  local build_args=(--build-arg "BUILD_IMAGE=$build_base" --build-arg "RUNTIME_IMAGE=$runtime_base")
  # A TLS-intercepting proxy's CA on this machine (see the Dockerfile's NODE_EXTRA_CA_CERTS).
  if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -r "$NODE_EXTRA_CA_CERTS" ]]; then
    build_args+=(--volume "$NODE_EXTRA_CA_CERTS:/run/host-ca.pem:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.pem)
  fi
  log "building $REF (build base $build_base, runtime base $runtime_base)"
  local t=$SECONDS
  # No --layers: with the vfs driver every cached step is a full copy of the root filesystem; one
  # layer per stage is faster, and the hash above already skips unchanged builds. npm's download
  # cache persists in a cache mount.
  "${BUILDAH[@]}" build --runtime runc --network host "${build_args[@]}" \
    --tag "$REF" --file Dockerfile . >"$PYWR_IMAGE_CACHE/build.log" 2>&1 \
    || { tail -n 40 "$PYWR_IMAGE_CACHE/build.log" >&2; die "buildah build failed (log: $PYWR_IMAGE_CACHE/build.log)"; }
  log "built in $(( SECONDS - t )) s"

  mkdir -p "$(dirname "$ARCHIVE")"
  rm -f "$ARCHIVE.tmp"
  "${BUILDAH[@]}" push --quiet "$REF" "oci-archive:$ARCHIVE.tmp:$REF" >&2
  mv "$ARCHIVE.tmp" "$ARCHIVE"
  log "OCI archive: $ARCHIVE ($(du -m "$ARCHIVE" | cut -f1) MB)"

  # Only the newest build is kept: vfs stores every image in full.
  local old
  for old in $("${BUILDAH[@]}" images --noheading --format '{{.Name}}:{{.Tag}}' "$IMAGE_NAME" 2>/dev/null); do
    [[ "$old" == "$REF" ]] || "${BUILDAH[@]}" rmi "$old" >/dev/null 2>&1 || true
  done
  "${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
  find "$(dirname "$ARCHIVE")" -name '*.oci.tar' ! -path "$ARCHIVE" -delete
  report_size
}

# The image's uncompressed size, its layers, and the biggest items inside it.
report_size() {
  local size; size="$("${BUILDAH[@]}" images --noheading --format '{{.Size}}' "$REF")"
  log "image size (uncompressed): $size"
  # The base's layers, then one layer for all the runtime stage adds (buildah commits a stage once).
  local layers; layers="$("${PODMAN[@]}" history --format '{{.Size}}' "$REF" 2>/dev/null | grep -v '^0 *B$' | tac | paste -sd, | sed 's/,/, /g')"
  log "layers (uncompressed, oldest first): $layers"
  local ctr mnt
  ctr="$("${BUILDAH[@]}" from --quiet "$REF")"
  mnt="$("${BUILDAH[@]}" mount "$ctr")"
  log "largest parts:"
  ( cd "$mnt" && du -sm usr/local/bin/node usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu app/dist app/node_modules 2>/dev/null \
      | awk '{ printf "  %5s MB  /%s\n", $1, $2 }'
    echo "  node_modules, largest packages:"
    { find app/node_modules -mindepth 1 -maxdepth 1 -type d ! -name '@*' ! -name '.*'
      find app/node_modules -mindepth 2 -maxdepth 2 -type d -path 'app/node_modules/@*/*'; } \
      | xargs du -sm | sort -rn \
      | awk 'NR <= 8 { printf "  %5s MB  /%s\n", $1, $2 }' ) >&2
  # (awk reads to the end: `head` would close the pipe early and, under pipefail, sort's SIGPIPE
  # would fail the whole build with exit 141.)
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
}

# Loads the archive into the test node's containerd (namespace k8s.io, the kubelet's) unless it has it.
import_into_containerd() {
  local addr="${PYWR_CONTAINERD_ADDRESS:-}"
  if [[ -z "$addr" && -f "$REPO_ROOT/.test-env/env" ]]; then
    addr="$(sed -n 's/^PYWR_CONTAINERD_ADDRESS=//p' "$REPO_ROOT/.test-env/env" | tail -n 1)"
  fi
  if [[ -z "$addr" ]]; then
    log "containerd import skipped: PYWR_CONTAINERD_ADDRESS is not set (no real node in .test-env/env)"
    return 0
  fi
  if ! command -v ctr >/dev/null || ! timeout 10 ctr -a "$addr" version >/dev/null 2>&1; then
    log "containerd import skipped: no containerd answers at $addr"
    return 0
  fi
  # grep without -q reads the whole list: with -q it may exit before ctr has written it all, and ctr's
  # SIGPIPE then fails the pipeline (pipefail) although the image is there.
  if ctr -a "$addr" -n k8s.io images ls -q | grep -Fx "$REF" >/dev/null; then
    log "containerd at $addr already has $REF"
    return 0
  fi
  ctr -a "$addr" -n k8s.io images import "$ARCHIVE" >&2
  ctr -a "$addr" -n k8s.io images ls -q | grep -Fx "$REF" >/dev/null || die "containerd import of $ARCHIVE did not name the image $REF"
  log "imported into containerd at $addr (namespace k8s.io)"
}

main() {
  build_image
  import_into_containerd
  log "done in $(( SECONDS - started )) s"
  printf '%s\n' "$REF"
}

# One build at a time on this machine (the store is not for concurrent writers; 2 cores).
with_image_lock main
