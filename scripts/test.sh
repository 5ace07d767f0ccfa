#!/usr/bin/env bash
# Runs the test suite (deno task test) after setup.
#
# Known issue: the Deno process sometimes aborts *after* the last test has finished and the summary
# has been printed ("double free or corruption" from native code at teardown, exit 134 = SIGABRT;
# seen once in three clean CI runs here, most likely the WebGPU (lavapipe) device being torn down).
# A teardown abort after a summary with "0 failed" is reported loudly and not counted as a failure;
# any other non-zero exit, or an abort before the summary, fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?
log=$(mktemp)
node_modules/deno/deno task test "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ok \| [0-9]+ passed \| 0 failed' | tail -1)
rm -f "$log"
if [ "$rc" -eq 134 ] && [ -n "$summary" ]; then
  echo "test.sh: WARNING: deno aborted (exit 134) during teardown after all tests passed: $summary" >&2
  exit 0
fi
exit "$rc"
