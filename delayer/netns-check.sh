#!/usr/bin/env bash
# netns-check.sh - functional and performance check of gomel-delayer.
#
# Run as root. Builds the delayer (and floodtool, the traffic generator) with
# /usr/bin/go into a temp dir, creates two throwaway network namespaces
# joined by a veth (10.77.0.1 <-> 10.77.0.2), steers each side's OUTPUT
# traffic into NFQUEUE 0 of its own namespace, and checks:
#   0  --queue-bypass: no delayer running -> traffic flows undelayed
#   1  delay=50ms on both sides       -> ping RTT 100 +- 5 ms
#   2  delay=50ms,jitter=10ms both    -> RTT spread matches uniform jitter
#   3  asymmetric 30ms / 70ms         -> RTT 100 +- 5 ms
#   4  20k UDP pkt/s through 80ms     -> all pass, delayer CPU, one-way delay
#   5  accuracy (stats file)          -> median / p99 hold error
#   6  SIGTERM releases held packets at once; SIGKILL + bypass keeps traffic flowing
#   7  ingress queueing (INPUT -s peer) and TCP bulk throughput egress vs ingress
#   +  saturation rate (figures only)
# Exits non-zero if any check fails. Nothing outside the namespaces is
# touched; namespaces and temp files are removed on exit.
set -u

GO=${GO:-/usr/bin/go}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d /tmp/dly-check.XXXXXX)
NA=dly-a$$
NB=dly-b$$
A=10.77.0.1
B=10.77.0.2
FAILS=0
PIDS=()
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "FATAL: $*" >&2; exit 1; }
pass() { echo "  PASS: $*"; }
fail() { echo "  FAIL: $*"; FAILS=$((FAILS + 1)); }
# check COND-as-awk-expression MESSAGE  (awk does the float comparisons)
check() { if awk "BEGIN{exit !($1)}"; then pass "$2"; else fail "$2"; fi; }

[ "$(id -u)" = 0 ] || die "run as root"
if command -v ping >/dev/null; then PING=(ping); else PING=(busybox ping); fi

echo "== build"
(cd "$HERE" && CGO_ENABLED=0 GO111MODULE=on GOFLAGS= GOPROXY=off "$GO" build -o "$TMP/gomel-delayer" .) || die "build delayer"
(cd "$HERE/floodtool" && CGO_ENABLED=0 GO111MODULE=on GOFLAGS= GOPROXY=off "$GO" build -o "$TMP/floodtool" .) || die "build floodtool"
DLY=$TMP/gomel-delayer
FT=$TMP/floodtool

echo "== netns $NA ($A) <-> $NB ($B)"
ip netns add "$NA" && ip netns add "$NB" || die "ip netns add"
ip link add dlyva$$ netns "$NA" type veth peer name dlyvb$$ netns "$NB" || die "veth"
ip -n "$NA" addr add $A/24 dev dlyva$$
ip -n "$NB" addr add $B/24 dev dlyvb$$
for ns in "$NA" "$NB"; do ip -n "$ns" link set lo up; done
ip -n "$NA" link set dlyva$$ up
ip -n "$NB" link set dlyvb$$ up
# set_rules out|in : steer traffic to the peer into NFQUEUE 0 of each namespace,
# at egress (OUTPUT -d peer: the delayer in NA delays A->B) or at ingress
# (INPUT -s peer: the delayer in NA delays B->A).
# --queue-bypass: if no process is bound to the queue, packets are accepted.
set_rules() {
	local ns peer
	for ns in "$NA" "$NB"; do
		if [ "$ns" = "$NA" ]; then peer=$B; else peer=$A; fi
		ip netns exec "$ns" iptables -F OUTPUT && ip netns exec "$ns" iptables -F INPUT || die "iptables -F in $ns"
		if [ "$1" = out ]; then
			ip netns exec "$ns" iptables -A OUTPUT -d "$peer" -j NFQUEUE --queue-num 0 --queue-bypass
		else
			ip netns exec "$ns" iptables -A INPUT -s "$peer" -j NFQUEUE --queue-num 0 --queue-bypass
		fi || die "iptables NFQUEUE in $ns"
	done
}
set_rules out
echo "  loadavg: $(cat /proc/loadavg) on $(nproc) CPUs (other load on the machine shows up as latency outliers)"

# start_delayer VAR NS STATSFILE ARGS... : starts it, waits until bound, sets $VAR to its pid
start_delayer() {
	local var=$1 ns=$2 stats=$3 log i
	shift 3
	log=$stats.log
	ip netns exec "$ns" "$DLY" --stats "$stats" --stats-every 1s "$@" >"$log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	for i in $(seq 50); do
		grep -q "bound" "$log" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || { cat "$log"; die "delayer in $ns exited"; }
		sleep 0.1
	done
	grep -q "bound" "$log" || { cat "$log"; die "delayer in $ns did not bind"; }
	printf -v "$var" %s "$pid"
}
stop_delayer() { # PID: SIGTERM and wait; fails the run if exit code != 0
	kill -TERM "$1" 2>/dev/null
	wait "$1"
	local rc=$?
	[ $rc = 0 ] || fail "delayer $1 exited with $rc after SIGTERM"
}
stat_get() { sed -n "s/^$2=//p" "$1"; } # FILE KEY
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# ping_rtts NS COUNT INTERVAL -> prints "min avg max stdev p10 p50 p90 n" (ms)
ping_rtts() {
	ip netns exec "$1" "${PING[@]}" -c "$2" -i "$3" -W 2 $B 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -n |
		awk '{v[NR]=$1; s+=$1; ss+=$1*$1}
		     END{ if (NR==0) {print "0 0 0 0 0 0 0 0"; exit}
		          m=s/NR; sd=sqrt(ss/NR-m*m > 0 ? ss/NR-m*m : 0)
		          printf "%.2f %.2f %.2f %.2f %.2f %.2f %.2f %d\n", v[1], m, v[NR], sd,
		                 v[int(0.1*(NR-1))+1], v[int(0.5*(NR-1))+1], v[int(0.9*(NR-1))+1], NR }'
}

# rtt_check COUNT: ping A->B; RTT must be 100 +- 5 ms. min, avg, median and
# p90 must be inside; max is printed (a rare outlier from other load on a
# shared 2-CPU machine is reported, not failed).
rtt_check() {
	read -r mn av mx sd p10 p50 p90 n < <(ping_rtts "$NA" "$1" 0.1)
	echo "  rtt min/avg/max/stdev = $mn/$av/$mx/$sd ms, p50=$p50 p90=$p90 ($n/$1 replies)"
	check "$n == $1 && $mn >= 95 && $av <= 105 && $p90 <= 105" "RTT 100 +- 5 ms (min, avg, p90)"
	awk "BEGIN{exit !($mx > 105)}" && echo "  note: max $mx ms above 105"
}

echo "== 0: no delayer, rules with --queue-bypass"
read -r mn av mx sd p10 p50 p90 n < <(ping_rtts "$NA" 5 0.2)
echo "  rtt min/avg/max = $mn/$av/$mx ms  ($n/5 replies)"
check "$n == 5 && $mx < 5" "traffic flows undelayed while no delayer is bound (--queue-bypass)"

echo "== 1: delay=50ms both sides"
start_delayer DA "$NA" "$TMP/a1" --queue 0:delay=50ms
start_delayer DB "$NB" "$TMP/b1" --queue 0:delay=50ms
rtt_check 30
stop_delayer "$DA"; stop_delayer "$DB"
echo "  hold error A: p50=$(stat_get "$TMP/a1" queue.0.err_p50_us)us p99=$(stat_get "$TMP/a1" queue.0.err_p99_us)us;" \
	"B: p50=$(stat_get "$TMP/b1" queue.0.err_p50_us)us p99=$(stat_get "$TMP/b1" queue.0.err_p99_us)us"

echo "== 2: delay=50ms,jitter=10ms both sides (uniform +-10 ms each way)"
start_delayer DA "$NA" "$TMP/a2" --queue 0:delay=50ms,jitter=10ms
start_delayer DB "$NB" "$TMP/b2" --queue 0:delay=50ms,jitter=10ms
read -r mn av mx sd p10 p50 p90 n < <(ping_rtts "$NA" 200 0.05)
stop_delayer "$DA"; stop_delayer "$DB"
# Sum of two U(-10,10): triangular on [-20,20], stdev 8.16 ms, p10..p90 = 22.1 ms.
echo "  rtt min/avg/max = $mn/$av/$mx ms, stdev=$sd ms, p10/p50/p90 = $p10/$p50/$p90 ms ($n/200 replies)"
echo "  expected: 80..120 ms, stdev 8.2 ms, p10..p90 ~ 88.9..111.1 (width 22.1 ms)"
check "$n >= 195" "no loss"
check "$av >= 97 && $av <= 103.5" "mean RTT 100 +- 3.5 ms"
check "$sd >= 6.5 && $sd <= 10" "stdev $sd ms within 6.5..10 (expected 8.2)"
check "($p90 - $p10) >= 16 && ($p90 - $p10) <= 28" "p10..p90 width $(awk "BEGIN{print $p90 - $p10}") ms within 16..28 (expected 22.1)"
check "$mn >= 79" "no RTT below 80 ms (min $mn)"
awk "BEGIN{exit !($mx > 122)}" && echo "  note: max $mx ms above 120 ms + 2 ms overhead"

echo "== 3: asymmetric A->B 30ms, B->A 70ms"
start_delayer DA "$NA" "$TMP/a3" --queue 0:delay=30ms
start_delayer DB "$NB" "$TMP/b3" --queue 0:delay=70ms
rtt_check 30
stop_delayer "$DA"; stop_delayer "$DB"

echo "== 4: 20000 UDP pkt/s (64 B) for 5 s through delay=80ms (A->B only)"
start_delayer DA "$NA" "$TMP/a4" --queue 0:delay=80ms --max-queued 10000
ip netns exec "$NB" "$FT" udprecv $B:9000 1s >"$TMP/recv4" &
RP=$!
sleep 0.3
c0=$(cpu_ticks "$DA"); t0=$(date +%s.%N)
ip netns exec "$NA" "$FT" udpsend $B:9000 20000 5 >"$TMP/send4"
sleep 0.2
c1=$(cpu_ticks "$DA"); t1=$(date +%s.%N)
u=$(awk '{print $14}' "/proc/$DA/stat"); s=$(awk '{print $15}' "/proc/$DA/stat")
wait $RP
stop_delayer "$DA"
cat "$TMP/send4" "$TMP/recv4" | grep -v ready | sed 's/^/  /'
sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$TMP/send4")
recv=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' "$TMP/recv4")
pps=$(sed -n 's/.* pps=\([0-9]*\).*/\1/p' "$TMP/recv4")
lat50=$(sed -n 's/.*lat_p50_ms=\([0-9.]*\).*/\1/p' "$TMP/recv4")
lat99=$(sed -n 's/.*lat_p99_ms=\([0-9.]*\).*/\1/p' "$TMP/recv4")
cpu=$(awk "BEGIN{printf \"%.1f\", 100*($c1-$c0)/$HZ/($t1-$t0)}")
echo "  passed ${pps} pkt/s; delayer CPU ${cpu}% of one core (user ${u} + sys ${s} ticks total, sys includes the" \
	"kernel transmit path run inside the verdict write); max_queued=$(stat_get "$TMP/a4" max_queued)" \
	"dropped_full=$(stat_get "$TMP/a4" dropped_full) kernel_dropped=$(stat_get "$TMP/a4" kernel_dropped)"
check "$recv >= $sent * 0.999 && $pps >= 19000" "all packets passed at ~20k pkt/s ($recv/$sent)"
check "$lat50 >= 80 && $lat50 <= 82 && $lat99 <= 95" "one-way delay under load p50=${lat50} p99=${lat99} ms (80 ms planned)"
check "$(stat_get "$TMP/a4" kernel_dropped) == 0 && $(stat_get "$TMP/a4" dropped_full) == 0" "no drops"

echo "== 5: accuracy (hold error = actual - planned, from the stats file)"
e50=$(stat_get "$TMP/a4" queue.0.err_p50_us); e99=$(stat_get "$TMP/a4" queue.0.err_p99_us)
emax=$(stat_get "$TMP/a4" queue.0.err_max_us); en=$(stat_get "$TMP/a4" queue.0.err_samples)
echo "  at 20k pkt/s: median ${e50} us, p99 ${e99} us, max ${emax} us over ${en} packets"
check "$e50 <= 1000 && $e99 <= 5000" "median <= 1 ms and p99 <= 5 ms"

echo "== 6: shutdown behaviour"
start_delayer DA "$NA" "$TMP/a6" --queue 0:delay=3s
t0=$(date +%s.%N)
ip netns exec "$NA" "${PING[@]}" -c 1 -W 5 $B >"$TMP/ping6" 2>&1 &
PP=$!
sleep 0.5
stop_delayer "$DA"
wait $PP; prc=$?
t1=$(date +%s.%N)
el=$(awk "BEGIN{printf \"%.2f\", $t1-$t0}")
echo "  ping held for 3 s, SIGTERM after 0.5 s: reply after ${el} s, flushed=$(stat_get "$TMP/a6" flushed)"
check "$prc == 0 && $el < 2 && $(stat_get "$TMP/a6" flushed) >= 1" "SIGTERM releases held packets immediately, exit 0"
start_delayer DA "$NA" "$TMP/a6b" --queue 0:delay=10ms
kill -KILL "$DA"; wait "$DA" 2>/dev/null
read -r mn av mx sd p10 p50 p90 n < <(ping_rtts "$NA" 3 0.2)
check "$n == 3 && $mx < 5" "after SIGKILL, --queue-bypass lets traffic flow undelayed"
# Same without --queue-bypass: traffic is dropped while nobody listens.
ip netns exec "$NA" iptables -R OUTPUT 1 -d $B -j NFQUEUE --queue-num 0
read -r mn av mx sd p10 p50 p90 n < <(ping_rtts "$NA" 3 0.2)
echo "  without --queue-bypass and no delayer: $n/3 pings answered"
check "$n == 0" "without --queue-bypass, traffic is dropped when no delayer listens"
ip netns exec "$NA" iptables -R OUTPUT 1 -d $B -j NFQUEUE --queue-num 0 --queue-bypass

echo "== extra: saturation (unpaced UDP sender) through delay=80ms (figures only)"
start_delayer DA "$NA" "$TMP/a7" --queue 0:delay=80ms --max-queued 10000
ip netns exec "$NB" "$FT" udprecv $B:9000 1s >"$TMP/recv7" &
RP=$!
sleep 0.3
c0=$(cpu_ticks "$DA"); t0=$(date +%s.%N)
ip netns exec "$NA" "$FT" udpsend $B:9000 0 3 >"$TMP/send7"
c1=$(cpu_ticks "$DA"); t1=$(date +%s.%N)
wait $RP
stop_delayer "$DA"
cat "$TMP/send7" "$TMP/recv7" | grep -v ready | sed 's/^/  /'
echo "  delayer CPU $(awk "BEGIN{printf \"%.1f\", 100*($c1-$c0)/$HZ/($t1-$t0)}")% of one core;" \
	"dropped_full=$(stat_get "$TMP/a7" dropped_full) kernel_dropped=$(stat_get "$TMP/a7" kernel_dropped)" \
	"err p50=$(stat_get "$TMP/a7" queue.0.err_p50_us)us p99=$(stat_get "$TMP/a7" queue.0.err_p99_us)us"

echo "== 7: ingress queueing (INPUT -s peer) and one TCP flow, 40 ms each way"
# tcp_run TAG MBYTES: bulk TCP A->B with 40 ms delayers on both sides
tcp_run() {
	start_delayer DA "$NA" "$TMP/t$1a" --queue 0:delay=40ms
	start_delayer DB "$NB" "$TMP/t$1b" --queue 0:delay=40ms
	if [ "$1" = in ]; then
		read -r mn av mx sd p10 p50 p90 n < <(ping_rtts "$NA" 10 0.1)
		echo "  ingress mode ping rtt min/avg/max = $mn/$av/$mx ms ($n/10)"
		check "$n == 10 && $mn >= 78 && $p50 <= 84" "ingress queueing: RTT 80 +- 4 ms"
	fi
	# receiver measures for at most 10 s; the sender is cut off after 12 s
	ip netns exec "$NB" "$FT" tcprecv $B:9001 10 >"$TMP/tcp$1" &
	local rp=$!
	sleep 0.3
	timeout 12 ip netns exec "$NA" "$FT" tcpsend $B:9001 "$2" 2>/dev/null
	wait $rp
	stop_delayer "$DA"; stop_delayer "$DB"
	MBPS=$(sed -n 's/.*MBps=\([0-9.]*\).*/\1/p' "$TMP/tcp$1"); MBPS=${MBPS:-0}
	echo "  $1: $(grep -v ready "$TMP/tcp$1")  (delayer in $NA: $(stat_get "$TMP/t$1a" packets) packets," \
		"err p50=$(stat_get "$TMP/t$1a" queue.0.err_p50_us)us p99=$(stat_get "$TMP/t$1a" queue.0.err_p99_us)us)"
}
tcp_run out 40
out_mbps=$MBPS
set_rules in
tcp_run in 40
check "$MBPS >= 2" "ingress queueing: TCP bulk ${MBPS} MB/s at 80 ms RTT (egress queueing got ${out_mbps} MB/s: TCP small queues)"
set_rules out

echo
if [ $FAILS = 0 ]; then echo "ALL CHECKS PASSED"; else echo "$FAILS CHECK(S) FAILED"; fi
exit $((FAILS > 0))
