#!/usr/bin/env bash
# Every test tier (npm test, after npm run build): the integration tier, which mostly waits on the engine
# (its files' own processes use 2-10 s of CPU each in 20-150 s: containers starting, planned faults at
# their times, a rate's transfer), runs in the background from the start; the unit, go and browser tiers,
# which need the CPU, run beside it. Before, one after another: 440 s from a fresh clone here (2 cores),
# the unit tier's 140 s spent while no engine work ran. The integration tier's report is printed after the
# others', whole; the exit status is failed if any tier failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
integration_report=$(mktemp)
trap 'rm -f "$integration_report"' EXIT
npm run --silent tier:integration >"$integration_report" 2>&1 &
integration=$!
failed=()
npm run tier:unit || failed+=(unit)
npm run test:go || failed+=(go)
npm run tier:browser || failed+=(browser)
wait "$integration" || failed+=(integration)
echo "--- integration tier (ran beside the others) ---"
cat "$integration_report"
if [ ${#failed[@]} -gt 0 ]; then
  echo "tests: failed tiers: ${failed[*]}" >&2
  exit 1
fi
