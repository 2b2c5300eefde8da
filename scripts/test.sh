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
# The formatter's check first (prettier, .prettierrc.json): a tree it would change fails here.
npm run format:check
npm test
