#!/usr/bin/env bash
# The single test command (`npm test`): build, type-check, lint, bring up the real test environment,
# run every suite (unit, integration, e2e), and end with one plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }
fail_early() { echo "$1"; echo "0 passed, 1 failed"; exit 1; }

step "build"; npm run --silent build || fail_early "build failed"
step "type-check tests"; npx tsc -p tsconfig.test.json --noEmit || fail_early "type-check failed"
step "lint"; npx eslint . || fail_early "lint failed"
step "test environment"; bash scripts/env/up.sh || fail_early "the test environment did not come up (see the log tail above)"

step "tests"
mkdir -p .test-results
npx vitest run --reporter=default --reporter=json --outputFile=.test-results/vitest.json "$@"
rc=$?
if [[ -f .test-results/vitest.json ]]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(".test-results/vitest.json", "utf8"));
    const failed = r.numFailedTests + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? r.numFailedTestSuites : 0);
    console.log(`\n${r.numPassedTests} passed, ${failed} failed`);
  '
else
  echo "0 passed, 1 failed"
fi
exit $rc
