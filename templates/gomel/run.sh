#!/bin/sh
# Runs gomel for node SLOT (pid SLOT-1) with configs/<CONFIG>.json.
# Usage: run.sh [CONFIG]   (default "config", as gomel's spawn.sh)
# The node's key is the Swarm secret /run/secrets/gomel.pk (gomelctl deploy), or
# keys/<pid>.pk when the image was built with --bake-keys.
# gomel runs inside /extract, so its logs can be collected while it runs (a node
# that never finishes, e.g. with a wrong key, is read with `deploy logs`).
# gomel exits 0 even after refusing its input (it prints the reason on stderr),
# so this script keeps stderr and the exit status in /extract, and exits
# non-zero when gomel reported an error.
set -u
CONFIG="${1:-config}"
case "${SLOT:-}" in '' | *[!0-9]*) echo "run.sh: SLOT must be the node number (1..N)" >&2; exit 2 ;; esac
pid=$((SLOT - 1))
KEY_FILE="${GOMEL_KEY_FILE:-/run/secrets/gomel.pk}"
[ -f "$KEY_FILE" ] || KEY_FILE="/gomel/keys/$pid.pk"
COMMITTEE=/gomel/keys/committee.ka
OUT=/extract
# gomel breaks on --log paths with a directory: it runs from the folder its logs go to.
mkdir -p "$OUT" && cd "$OUT" || exit 2
. /gomel/node-lib.sh
. /gomel/faults.sh
# Stopped before gomel runs (a removed service, `down`): nothing to ship yet.
trap 'exit 143' TERM INT
# Once the common start is known, before gomel starts: network conditions, then a twin's halves.
before_gomel() { apply_network "$1" && apply_twin "$1"; }
start_together "$COMMITTEE" "$OUT" before_gomel
wall_clock >started_at
record_cpu start "$OUT"
# This script is the container's PID 1: a SIGTERM (service removed, `down`, a
# `stop` fault) reaches only it, so it is passed on to gomel, which then stops
# its services and exits; what it logged is shipped as after any run. Without
# this the node lived on until Swarm's SIGKILL and could talk to the next run.
# $1: the log's name (gomel also writes setup_<name>), $2: its stderr file.
start_gomel() {
  /gomel/bin/gomel --pk "$KEY_FILE" --keys_addrs "$COMMITTEE" \
    --log "$1" --config "/gomel/configs/$CONFIG.json" 2>"$2" &
  gomel=$!
  echo "$gomel" >/tmp/gomel.pid
}
wait_gomel() {
  wait "$gomel"
  status=$?
  # A trapped signal ends `wait` early (status > 128): wait on for gomel's own exit.
  while kill -0 "$gomel" 2>/dev/null; do
    wait "$gomel"
    status=$?
  done
}
stopping=""
gomel=""
# A paused gomel (a pause fault) would never act on the TERM: resume it first.
trap 'stopping=1; [ -n "$gomel" ] && kill -CONT "$gomel" 2>/dev/null; [ -n "$gomel" ] && kill -TERM "$gomel" 2>/dev/null' TERM INT
start_gomel "$pid.$CONFIG.log" stderr.txt
# A TERM that came before gomel's pid was known is passed on now.
[ -n "$stopping" ] && kill -TERM "$gomel" 2>/dev/null
# This node's part of a fault plan (deploy spawn --faults), timed from the common start.
apply_faults "$OUT" "$(cat started_at)" /tmp/gomel.pid &
faults=$!
report_progress "$pid.$CONFIG.log" &
progress=$!
# Live faults (gomelctl fault): one request a connection, applied by faults.sh's control_request.
nc -ll -p "${GOMEL_CONTROL_PORT:-65433}" -e /bin/sh -c '. /gomel/node-lib.sh; . /gomel/faults.sh; control_request /extract /tmp/gomel.pid' >/dev/null 2>&1 &
control=$!
wait_gomel
# A restart fault starts gomel again with the same key, after its crash. Its log
# is a file of its own: the first run's log stays the node's evidence, and what
# the restarted gomel did is kept beside it, judged by no assumption.
restarts=0
while [ -z "$stopping" ] && await_restart /tmp/gomel.pid; do
  restarts=$((restarts + 1))
  echo "$status" >"exit_status.before-restart$restarts"
  start_gomel "restart$restarts-$pid.$CONFIG.log" "restart$restarts-stderr.txt"
  wait_gomel
done
trap '' TERM INT
kill "$faults" "$progress" "$control" 2>/dev/null
record_cpu end "$OUT"
echo "$status" >exit_status
[ -n "$stopping" ] && echo "stopped by SIGTERM" >stopped
cat stderr.txt >&2
ship_extract
# Stay resolvable a moment: a peer still in start_together must see this node ran.
[ -n "$stopping" ] || sleep "${GOMEL_LINGER:-3}"
if [ "$status" -eq 0 ] && [ -s stderr.txt ]; then
  echo "run.sh: gomel exited 0 but reported an error on stderr (see above)" >&2
  exit 1
fi
exit "$status"
