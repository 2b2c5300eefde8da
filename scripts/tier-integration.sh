#!/usr/bin/env bash
# The integration tier (npm run tier:integration, after npm run build; npm test runs it beside the unit, go
# and browser tiers: scripts/tiers.sh): the single-host files four at a time, and beside them the 3-host
# lab's file, whose engines run ahead of them for the CPU (docker/lab.sh: at the same priority a lab engine
# starved by the other files' load missed its swarm heartbeats and the swarm stopped a healthy host's node:
# docs/testing.md). The lab's report is printed after the others'.
# The files mostly wait (containers starting, faults at their planned times, a rate's transfer: each file's
# own process used 2-10 s of CPU in 20-150 s), so the tier is as long as its longest file: the longest go
# first, so that no long file starts last while the other slots sit idle (measured alone, docs/testing.md:
# the lab ~148 s, faults ~96, network-delay ~86, network ~80, up-runs ~63, deploy ~58, up ~50, the rest
# under 35 s each).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=dist/test/integration
# Each test process seals the logs it collects with a key of its own, never the user's (test/support/seal-key.ts).
reporters=(--import ./dist/test/support/seal-key.js --test-reporter=spec --test-reporter-destination=stdout
  --test-reporter=./dist/test/support/file-times.js --test-reporter-destination=stdout)
longest=("$dir/faults.test.js" "$dir/network-delay.test.js" "$dir/network.test.js" "$dir/up-runs.test.js"
  "$dir/deploy.test.js" "$dir/up.test.js")
rest=()
for f in "$dir"/*.test.js; do
  case " ${longest[*]} $dir/multihost.test.js " in *" $f "*) ;; *) rest+=("$f") ;; esac
done
lab_report=$(mktemp)
trap 'rm -f "$lab_report"' EXIT
node --test "${reporters[@]}" "$dir/multihost.test.js" >"$lab_report" 2>&1 &
lab=$!
single=0
node --test --test-concurrency=4 "${reporters[@]}" "${longest[@]}" "${rest[@]}" || single=$?
multi=0
wait "$lab" || multi=$?
cat "$lab_report"
# The tests' images, removed once no file builds (test/integration/helpers.ts says why not each by its test).
docker image ls --quiet --filter "reference=127.0.0.1:5000/gomelctl-it-*" | sort -u | xargs -r docker image rm --force >/dev/null
[ "$single" = 0 ] && [ "$multi" = 0 ]
