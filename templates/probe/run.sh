#!/bin/sh
# gomelctl connectivity probe. It is NOT gomel: it stands in for gomel to prove
# the deploy's wiring, on a busybox image. Usage: run.sh [CONFIG], SLOT=k.
#  1. pid = SLOT-1; its key file exists, names that pid, and its signing public
#     key is the one on committee line pid+1;
#  2. listens on its own committee addresses, answering with its pid;
#  3. after the common start, asks every address of every node once, then asks
#     again those that did not answer as that node's pid, for PROBE_DEADLINE s
#     counted from the end of that first pass;
#  4. keeps answering until every node is done too, so no one is left behind.
# Report: probe.txt in the extract folder, one line per address. Exits 0 only if
# every address answered and the key matched.
#
# The network side, 2 to 4, is gomel-probe (probe/main.go, compiled into the base
# image beside gomel-delayer): one process answering on every address, and 64
# questions at once. The shell asked one address at a time, each question ~6
# processes (a subshell, timeout and busybox nc; nc -e, a shell and cat to answer):
# 4.7 ms of CPU a question, both sides, against gomel-probe's 0.2 ms; and a committee
# of N asks 3·N² of them (196,608 at 256 nodes: 256 shell nodes on one 2-core host
# reached load 200 and 25k addresses in 220 s).
#
# No deadline counts the wait for the common start: at 128 nodes that wait was
# 98 s, and a 120 s deadline counted from the script's start left too little to
# reach anyone (every address "unreachable"). Nor does it count the first pass,
# which grows with N (3 addresses a node: 768 questions at 256 nodes).
#
# GOMEL_DIR (the image's /gomel), GOMEL_EXTRACT (/extract, as node-lib.sh's
# ship_extract) and TMPDIR (/tmp) are seams for test/probe-node.test.ts, which
# runs this script on the host; the image sets none of them.
set -u
CONFIG="${1:-config}"
GOMEL_DIR="${GOMEL_DIR:-/gomel}"
EXTRACT="${GOMEL_EXTRACT:-/extract}"
STATE="${TMPDIR:-/tmp}/probe-state"
COMMITTEE="$GOMEL_DIR/keys/committee.ka"
KEY_FILE="${GOMEL_KEY_FILE:-/run/secrets/gomel.pk}"
LINGER="${PROBE_LINGER:-5}"
REPORT="$EXTRACT/probe.txt"
mkdir -p "$EXTRACT"
: >"$REPORT"
# say: the report and the service output. The lines per address go to the report alone
# (gomel-probe ask writes them): they would bury the progress lines `up` reads from the
# output's last lines. printf, not echo: dash's echo reads a backslash as an escape.
say() { printf '%s\n' "$*" >>"$REPORT"; printf 'probe: %s\n' "$*"; }
trap 'exit 143' TERM INT
fail() { say "error $*"; say "result fail"; [ -f "$GOMEL_DIR/node-lib.sh" ] && . "$GOMEL_DIR/node-lib.sh" && ship_extract; exit 1; }

case "${SLOT:-}" in '' | *[!0-9]*) fail "SLOT must be the node number (1..N)" ;; esac
pid=$((SLOT - 1))
say "pid $pid"
say "config $CONFIG"
[ -f "$GOMEL_DIR/configs/$CONFIG.json" ] || fail "no config $GOMEL_DIR/configs/$CONFIG.json"
n=$(wc -l <"$COMMITTEE")
line=$(sed -n "$((pid + 1))p" "$COMMITTEE")
[ -n "$line" ] || fail "no committee line for pid $pid (the committee has $n)"
say "nodes $n"
total=$(cut -d'|' -f4 "$COMMITTEE" | wc -w)
# The retries' time grows with N: 256 nodes on one 2-core host reached 95% of their 768 addresses each
# in 364 s after the common start (load 150-290, every node alive); 120 s ended them short.
DEADLINE="${PROBE_DEADLINE:-$((120 + n))}"

# Listening before the common start: a peer that learns the start sooner finds this node already.
# One process answers on every address (gomel-probe listen); the state file says how far this node is.
command -v gomel-probe >/dev/null || fail "gomel-probe is not on PATH: the image's base predates it (docker/setup.sh rebuilds gomelctl/base:busybox)"
echo checking >"$STATE"
gomel-probe listen "$pid" "$STATE" $(echo "$line" | cut -d'|' -f4 | tr ' ' '\n' | sed 's/.*://') &

# For `up` (src/core/logs/live-progress.ts): gomelctl-probe-progress <phase> <reached> <tried> <addresses>,
# phase: start (waiting for the common start), then gomel-probe's: checking (the first pass), retrying,
# waiting (for the others).
echo "gomelctl-probe-progress start 0 0 $total"
. "$GOMEL_DIR/node-lib.sh"
start_together "$COMMITTEE" "$EXTRACT" apply_network
wall_clock >"$EXTRACT/started_at"
since=$(date +%s)
elapsed() { echo $(($(date +%s) - since)); }

key_ok=0
[ -f "$KEY_FILE" ] || KEY_FILE="$GOMEL_DIR/keys/$pid.pk"
if [ ! -f "$KEY_FILE" ]; then
  say "key missing (no /run/secrets/gomel.pk nor keys/$pid.pk)"
else
  key_pid=$(cut -d' ' -f3 <"$KEY_FILE" | tr -d '\n')
  # The signing key is seed||public key (64 bytes): its last 32 bytes must be the committee's public key.
  key_pk=$(cut -d' ' -f1 <"$KEY_FILE" | base64 -d 2>/dev/null | tail -c 32 | base64)
  committee_pk=$(echo "$line" | cut -d'|' -f1)
  if [ "$key_pid" != "$pid" ]; then
    say "key wrong-pid: the key file is for pid $key_pid"
  elif [ "$key_pk" != "$committee_pk" ]; then
    say "key mismatch: the private key does not match committee line $((pid + 1))"
  else
    say "key ok"
    key_ok=1
  fi
fi

# The questions: gomel-probe ask (in the base image) asks every address, then again those
# that did not answer as their node, for PROBE_DEADLINE s from the end of that first pass,
# appending a line per address to the report; then writes done to $STATE and keeps
# answering until every node is done, or for PROBE_DEADLINE s more (every node's retries
# end PROBE_DEADLINE s after its own first pass). Exit 0: all reached; 1: not all; else an error.
# In the background, waited: SIGTERM then ends this script at once, not after the linger.
gomel-probe ask "$COMMITTEE" "$REPORT" "$STATE" "$DEADLINE" &
wait $!
asked=$?
[ "$asked" -le 1 ] || fail "gomel-probe ask failed (exit $asked)"
reached=$(grep -c '^peer .* ok$' "$REPORT")
sleep "$LINGER"

say "reached $reached of $total addresses in $(elapsed)s after the common start"
if [ "$asked" -eq 0 ] && [ "$key_ok" -eq 1 ]; then
  say "result ok"
  ship_extract
  exit 0
fi
say "result fail"
ship_extract
exit 1
