#!/usr/bin/env bash
# The whole test suite: unit tests and integration tests against a real local
# Docker Engine and registry (started by docker/setup.sh when not running).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash docker/setup.sh
npm test
