#!/bin/sh
# Runs gomel for node SLOT (pid SLOT-1) with configs/<CONFIG>.json.
# Usage: run.sh [CONFIG]   (default "config", as gomel's spawn.sh)
# The node's key is the Swarm secret /run/secrets/gomel.pk (gomelctl deploy), or
# keys/<pid>.pk when the image was built with --bake-keys.
# gomel exits 0 even after refusing its input (it prints the reason on stderr),
# so this script keeps stderr and the exit status, copies them and the logs to
# /extract, and exits non-zero when gomel reported an error.
set -u
CONFIG="${1:-config}"
case "${SLOT:-}" in '' | *[!0-9]*) echo "run.sh: SLOT must be the node number (1..N)" >&2; exit 2 ;; esac
pid=$((SLOT - 1))
KEY_FILE="${GOMEL_KEY_FILE:-/run/secrets/gomel.pk}"
[ -f "$KEY_FILE" ] || KEY_FILE="/gomel/keys/$pid.pk"
OUT=/extract
mkdir -p "$OUT"
# gomel breaks on --log paths with a directory: run it from a folder of its own.
WORK=/gomel/work
mkdir -p "$WORK" && cd "$WORK" || exit 2
/gomel/bin/gomel --pk "$KEY_FILE" --keys_addrs /gomel/keys/committee.ka \
  --log "$pid.$CONFIG.log" --config "/gomel/configs/$CONFIG.json" 2>stderr.txt
status=$?
cat stderr.txt >&2
for f in ./*.log; do [ -f "$f" ] && cp "$f" "$OUT/"; done
cp stderr.txt "$OUT/stderr.txt"
echo "$status" >"$OUT/exit_status"
if [ "$status" -eq 0 ] && [ -s stderr.txt ]; then
  echo "run.sh: gomel exited 0 but reported an error on stderr (see above)" >&2
  exit 1
fi
exit "$status"
