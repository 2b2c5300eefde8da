#!/usr/bin/env bash
# The integration tier (npm run tier:integration, after npm run build): the single-host files three at a
# time, and beside them the 3-host lab's file, whose engines run ahead of them for the CPU (docker/lab.sh:
# at the same priority a lab engine starved by the other files' load missed its swarm heartbeats and the
# swarm stopped a healthy host's node: docs/testing.md). The lab's report is printed after the others'.
# node --test starts files in the order given, the next as one ends: the longest go first, so that no long
# file starts last while the other two slots sit idle (measured wall times, docs/testing.md: network ~140 s,
# up ~115 s, faults ~85 s, the rest under 60 s each; longest last made the tier ~40 s longer).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=dist/test/integration
reporters=(--test-reporter=spec --test-reporter-destination=stdout
  --test-reporter=./dist/test/support/file-times.js --test-reporter-destination=stdout)
longest=("$dir/network.test.js" "$dir/up.test.js" "$dir/faults.test.js" "$dir/deploy.test.js")
rest=()
for f in "$dir"/*.test.js; do
  case " ${longest[*]} $dir/multihost.test.js " in *" $f "*) ;; *) rest+=("$f") ;; esac
done
lab_report=$(mktemp)
trap 'rm -f "$lab_report"' EXIT
node --test "${reporters[@]}" "$dir/multihost.test.js" >"$lab_report" 2>&1 &
lab=$!
single=0
node --test --test-concurrency=3 "${reporters[@]}" "${longest[@]}" "${rest[@]}" || single=$?
multi=0
wait "$lab" || multi=$?
cat "$lab_report"
[ "$single" = 0 ] && [ "$multi" = 0 ]
