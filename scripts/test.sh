#!/usr/bin/env bash
# The whole test suite, tier after tier (package.json): unit (no engine, browser or network),
# go (the delayer), browser (the report in Chromium), integration (a real local Docker Engine
# and registry, started by docker/setup.sh when not running).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash docker/setup.sh
# The tiers' tools from Debian: Go for the delayer's tests (npm run test:go), Chromium for the report's
# browser test (npm run test:browser; driven by playwright-core, which downloads no browser).
missing=()
command -v go >/dev/null 2>&1 || missing+=(golang-go)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "test: needs ${missing[*]} (apt-get install ${missing[*]}) or root to install them" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The formatter's check (prettier, .prettierrc.json) beside the build and the tiers (it only reads the
# sources): a tree it would change fails the run, its report printed at the end.
format_report=$(mktemp)
trap 'rm -f "$format_report"' EXIT
npm run format:check >"$format_report" 2>&1 &
format=$!
tests=0
npm test || tests=$?
formatted=0
wait "$format" || formatted=$?
cat "$format_report"
[ "$tests" = 0 ] && [ "$formatted" = 0 ]
