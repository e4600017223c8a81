#!/usr/bin/env bash
# Runs a container of an image built by `npm run image`, with podman on the image scripts' own store
# (no daemon, no pull). Usage: scripts/image/run.sh [podman run options...] IMAGE [args...]
# e.g. scripts/image/run.sh --rm --read-only "$(npm run --silent image 2>/dev/null | tail -n 1)" --help
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
apt_install podman runc
exec "${PODMAN[@]}" run "${PODMAN_RUN_LIMITS[@]}" "$@"
