#!/bin/sh
# gomelctl connectivity probe. It is NOT gomel: it stands in for gomel to prove
# the deploy's wiring, on a busybox image. Usage: run.sh [CONFIG], SLOT=k.
#  1. pid = SLOT-1; its key file exists, names that pid, and its signing public
#     key is the one on committee line pid+1;
#  2. listens on its own committee addresses, answering with its pid;
#  3. reaches every address of every node (retrying until PROBE_DEADLINE s) and
#     checks the answer comes from that node's pid;
#  4. keeps answering until every node is done too, so no one is left behind.
# Report: /extract/probe.txt. Exits 0 only if every address answered and the key matched.
set -u
CONFIG="${1:-config}"
COMMITTEE=/gomel/keys/committee.ka
KEY_FILE="${GOMEL_KEY_FILE:-/run/secrets/gomel.pk}"
DEADLINE="${PROBE_DEADLINE:-120}"
LINGER="${PROBE_LINGER:-5}"
REPORT=/extract/probe.txt
mkdir -p /extract
: >"$REPORT"
say() { echo "$*" >>"$REPORT"; echo "probe: $*"; }
trap 'exit 143' TERM INT
fail() { say "error $*"; say "result fail"; [ -f /gomel/node-lib.sh ] && . /gomel/node-lib.sh && ship_extract; exit 1; }
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }

case "${SLOT:-}" in '' | *[!0-9]*) fail "SLOT must be the node number (1..N)" ;; esac
pid=$((SLOT - 1))
say "pid $pid"
say "config $CONFIG"
[ -f "/gomel/configs/$CONFIG.json" ] || fail "no config /gomel/configs/$CONFIG.json"
n=$(wc -l <"$COMMITTEE")
line=$(sed -n "$((pid + 1))p" "$COMMITTEE")
[ -n "$line" ] || fail "no committee line for pid $pid (the committee has $n)"
say "nodes $n"
. /gomel/node-lib.sh
start_together "$COMMITTEE" /extract apply_network
wall_clock >/extract/started_at

key_ok=0
[ -f "$KEY_FILE" ] || KEY_FILE="/gomel/keys/$pid.pk"
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

echo checking >/tmp/probe-state
for address in $(echo "$line" | cut -d'|' -f4); do
  nc -ll -p "${address##*:}" -e /gomel/bin/answer.sh "$pid" &
done

unreached=0
peer=0
while IFS= read -r peer_line; do
  for address in $(echo "$peer_line" | cut -d'|' -f4); do
    answer=""
    while [ "$(elapsed)" -lt "$DEADLINE" ]; do
      answer=$(nc -w 2 "${address%:*}" "${address##*:}" </dev/null 2>/dev/null)
      case "$answer" in "gomelctl-probe pid=$peer "*) break ;; esac
      sleep 1
    done
    case "$answer" in
    "gomelctl-probe pid=$peer "*) say "peer $peer $address ok" ;;
    "") say "peer $peer $address unreachable"; unreached=$((unreached + 1)) ;;
    *) say "peer $peer $address wrong-node: answered '$answer'"; unreached=$((unreached + 1)) ;;
    esac
  done
  peer=$((peer + 1))
done <"$COMMITTEE"

echo done >/tmp/probe-state
# Others may still be checking us: answer until each node says it is done.
peer=0
while IFS= read -r peer_line; do
  address=$(echo "$peer_line" | cut -d'|' -f4 | cut -d' ' -f1)
  while [ "$(elapsed)" -lt "$DEADLINE" ]; do
    case "$(nc -w 2 "${address%:*}" "${address##*:}" </dev/null 2>/dev/null)" in *state=done*) break ;; esac
    sleep 1
  done
  peer=$((peer + 1))
done <"$COMMITTEE"
sleep "$LINGER"

say "reached $((n * $(echo "$line" | cut -d'|' -f4 | wc -w) - unreached)) of $((n * $(echo "$line" | cut -d'|' -f4 | wc -w))) addresses in $(elapsed)s"
if [ "$unreached" -eq 0 ] && [ "$key_ok" -eq 1 ]; then
  say "result ok"
  ship_extract
  exit 0
fi
say "result fail"
ship_extract
exit 1
