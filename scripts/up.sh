#!/usr/bin/env bash
# The main job on the embedded default: the shipped 8-node committee on a local
# single-node swarm with a local registry.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash docker/setup.sh
npm run --silent build
node bin/gomelctl keys gen
node bin/gomelctl keys verify
node bin/gomelctl config sync config
node bin/gomelctl config check config
