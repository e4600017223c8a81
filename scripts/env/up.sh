#!/usr/bin/env bash
# Brings up every test component (idempotent): installs/builds what is missing into the cache, starts
# what is not running, health-checks everything, and writes .test-env/env for the tests.
# Usage: scripts/env/up.sh [component...]   (default: all components)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPONENTS_DIR="$REPO_ROOT/scripts/env/components"
if (( $# > 0 )); then comps=("$@"); else
  comps=(); for f in "$COMPONENTS_DIR"/*.sh; do comps+=("$(basename "$f" .sh)"); done
fi

started=$SECONDS
declare -A pids=()
# install (download/build) and start run per component in parallel; builds serialise on a lock.
for c in "${comps[@]}"; do
  [[ -f "$COMPONENTS_DIR/$c.sh" ]] || die "unknown component $c"
  ( t=$SECONDS
    bash "$COMPONENTS_DIR/$c.sh" up >>"$PYWR_LOGS/up-$c.log" 2>&1
    echo "$c up in $(( SECONDS - t )) s" >>"$PYWR_LOGS/up-$c.log"
  ) &
  pids[$c]=$!
done

failed=()
for c in "${comps[@]}"; do
  if wait "${pids[$c]}"; then log "$c: $(tail -n 1 "$PYWR_LOGS/up-$c.log")"
  else failed+=("$c"); log "$c FAILED"; tail_log "$PYWR_LOGS/up-$c.log"; fi
done

# Assemble the env file from every component's contribution, also those up from an earlier call.
tmp="$PYWR_ENV_FILE.tmp"
{ echo "# written by scripts/env/up.sh $(date -u +%FT%TZ)"; echo "PYWR_CACHE=$PYWR_CACHE"; cat "$PYWR_RUN"/env.d/*.env 2>/dev/null || true; } > "$tmp"
mv "$tmp" "$PYWR_ENV_FILE"

if (( ${#failed[@]} > 0 )); then
  die "components failed to start: ${failed[*]} (logs in $PYWR_LOGS)"
fi
log "environment up in $(( SECONDS - started )) s; variables in $PYWR_ENV_FILE"
