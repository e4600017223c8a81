#!/usr/bin/env bash
# Prints each component's health; exits non-zero when any is down.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
COMPONENTS_DIR="$REPO_ROOT/scripts/env/components"
rc=0
for f in "$COMPONENTS_DIR"/*.sh; do
  c="$(basename "$f" .sh)"
  if bash "$f" status >/dev/null 2>&1; then printf '%-14s up\n' "$c"; else printf '%-14s DOWN\n' "$c"; rc=1; fi
done
exit $rc
