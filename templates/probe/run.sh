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
PENDING="${TMPDIR:-/tmp}/probe-pending"
COMMITTEE="$GOMEL_DIR/keys/committee.ka"
KEY_FILE="${GOMEL_KEY_FILE:-/run/secrets/gomel.pk}"
DEADLINE="${PROBE_DEADLINE:-120}"
LINGER="${PROBE_LINGER:-5}"
REPORT="$EXTRACT/probe.txt"
mkdir -p "$EXTRACT"
: >"$REPORT"
# say: the report and the service output; note: the report only (one line per
# address would bury the progress lines `up` reads from the output's last lines).
# printf, not echo: dash's echo would read a backslash in a peer's answer as an escape.
say() { printf '%s\n' "$*" >>"$REPORT"; printf 'probe: %s\n' "$*"; }
note() { printf '%s\n' "$*" >>"$REPORT"; }
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
reached=0
tried=0
# For `up` (src/core/logs/live-progress.ts): gomelctl-probe-progress <phase> <reached> <tried> <addresses>,
# phase: start (waiting for the common start), checking (the first pass), retrying, waiting (for the others).
progress() { echo "gomelctl-probe-progress $1 $reached $tried $total"; }

# Listening before the common start: a peer that learns the start sooner finds this node already.
echo checking >"$STATE"
for address in $(echo "$line" | cut -d'|' -f4); do
  nc -ll -p "${address##*:}" -e "$GOMEL_DIR/bin/answer.sh" "$pid" "$STATE" &
done

progress start
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

# One question, bounded as a whole: busybox nc -w bounds the connect only, and a
# peer frozen after the handshake would hold the probe for ever. The answer's first line.
nl='
'
ask() {
  answer=$(timeout 3 nc -w 2 "${1%:*}" "${1##*:}" </dev/null 2>/dev/null)
  answer=${answer%%"$nl"*}
}

# The first pass: every address once. Those that did not answer as their node go to $PENDING.
: >"$PENDING"
peer=0
while IFS= read -r peer_line; do
  for address in $(echo "$peer_line" | cut -d'|' -f4); do
    tried=$((tried + 1))
    ask "$address"
    case "$answer" in
    "gomelctl-probe pid=$peer "*) note "peer $peer $address ok"; reached=$((reached + 1)) ;;
    *) printf '%s %s %s\n' "$peer" "$address" "$answer" >>"$PENDING" ;;
    esac
  done
  progress checking
  peer=$((peer + 1))
done <"$COMMITTEE"

# Then the others again, once a second, until each answered or PROBE_DEADLINE s have passed.
# Each line of $PENDING keeps the last answer: a wrong node is told from a silent one.
retry_until=$(($(date +%s) + DEADLINE))
while [ -s "$PENDING" ] && [ "$(date +%s)" -lt "$retry_until" ]; do
  sleep 1
  : >"$PENDING.next"
  while read -r peer address answer; do
    if [ "$(date +%s)" -lt "$retry_until" ]; then
      ask "$address"
      case "$answer" in "gomelctl-probe pid=$peer "*) note "peer $peer $address ok"; reached=$((reached + 1)); continue ;; esac
    fi
    printf '%s %s %s\n' "$peer" "$address" "$answer" >>"$PENDING.next"
  done <"$PENDING"
  mv "$PENDING.next" "$PENDING"
  progress retrying
done
unreached=0
while read -r peer address answer; do
  case "$answer" in
  "") note "peer $peer $address unreachable" ;;
  *) note "peer $peer $address wrong-node: answered '$answer'" ;;
  esac
  unreached=$((unreached + 1))
done <"$PENDING"

echo done >"$STATE"
# Others may still be checking us: answer until each node says it is done, or for PROBE_DEADLINE s
# from here (every node's retries end PROBE_DEADLINE s after its own first pass).
linger_until=$(($(date +%s) + DEADLINE))
peer=0
while IFS= read -r peer_line; do
  address=$(echo "$peer_line" | cut -d'|' -f4 | cut -d' ' -f1)
  while [ "$(date +%s)" -lt "$linger_until" ]; do
    ask "$address"
    case "$answer" in *state=done*) break ;; esac
    sleep 1
  done
  progress waiting
  peer=$((peer + 1))
done <"$COMMITTEE"
sleep "$LINGER"

say "reached $reached of $total addresses in $(elapsed)s after the common start"
if [ "$unreached" -eq 0 ] && [ "$key_ok" -eq 1 ]; then
  say "result ok"
  ship_extract
  exit 0
fi
say "result fail"
ship_extract
exit 1
