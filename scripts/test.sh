#!/usr/bin/env bash
# The whole test suite: unit tests and integration tests against a real local
# Docker Engine and registry (started by docker/setup.sh when not running).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash docker/setup.sh
# The report's browser test opens it in Debian's Chromium (driven by playwright-core, which downloads no browser).
if ! command -v chromium >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "test: needs Debian's chromium (apt-get install chromium) or root to install it" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The formatter's check first (prettier, .prettierrc.json): a tree it would change fails here.
npm run format:check
npm test
