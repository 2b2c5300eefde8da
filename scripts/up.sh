#!/usr/bin/env bash
# The main job on the embedded default: the shipped 8-node committee and the
# connectivity-probe payload on a local single-node swarm with a local registry.
# Extra arguments go to `gomelctl up` (e.g. --n 16, --code DIR).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash docker/setup.sh
npm run --silent build
node bin/gomelctl up "$@"
