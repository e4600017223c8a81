#!/usr/bin/env bash
# Stops every test component (keeps the cache, so the next up is fast).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
COMPONENTS_DIR="$REPO_ROOT/scripts/env/components"
if (( $# > 0 )); then comps=("$@"); else
  comps=(); for f in "$COMPONENTS_DIR"/*.sh; do comps+=("$(basename "$f" .sh)"); done
fi
for c in "${comps[@]}"; do bash "$COMPONENTS_DIR/$c.sh" down || log "$c: down failed"; done
