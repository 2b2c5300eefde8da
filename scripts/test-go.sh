#!/bin/sh
# The Go tier (npm run test:go): the tests of the Go programs the base image holds, delayer/
# (gomel-delayer's scheduler) and probe/ (gomel-probe, the connectivity probe's network side),
# with Debian's golang-go alone. Module mode (each folder's go.mod, standard library only), never
# the network (GOPROXY=off), no C compiler (CGO_ENABLED=0), whatever GOFLAGS or GO111MODULE the
# caller has; the build cache in the repository's ignored dist/, so it works where HOME is unset
# or not writable.
set -eu
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || { echo "test:go needs Go >= 1.19 (Debian: apt-get install golang-go)" >&2; exit 1; }
repo=$(pwd)
for module in delayer probe; do
  (cd "$module" && env GOFLAGS= GO111MODULE=on GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE="$repo/dist/go-cache" go test ./...)
done
