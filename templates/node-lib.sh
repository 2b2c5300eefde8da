# Sourced by run.sh (gomel's and the probe's): start every node at the same moment,
# and ship what the node leaves in /extract to the manager.
#
# Start together.
# Swarm starts a committee's containers one after another (64 nodes took 53 s on
# 2 cores): without this, early nodes spend their first seconds dialling peers
# that do not exist yet, and a run measures the stagger, not the protocol.
# A peer's name resolves as soon as its container joins the network, up to
# seconds before its process runs, so readiness is a TCP answer from the peer's
# own script: each node answers "ready <when>" on GOMEL_READY_PORT.
# One node, the committee's first (pid 0), coordinates: it asks every peer until
# each answered, and fixes the common start
# GOMEL_START_MARGIN seconds (3 + N/32) after the last answer; it then answers "ready <when> done
# <start> by <node>". Every other node asks the coordinator alone, once a second, until it has the start:
# each learns it within a second or two of the coordinator fixing it (measured, real gomel over 3
# hosts on 2 cores: at most 2.3 s at 32 nodes, 1.5 s at 64), so the margin need not grow with N².
# Questions per round grow with N, not N²: with every node asking every peer, 64
# nodes on 2 cores kept a load of 400-500 and never finished the start in 120 s.
# The margin covers a node that learns the coordinator's name late (across hosts
# the overlay's name records spread by gossip, seconds late).
# A coordinator silent to margin + 3 questions in a row is taken for dead: node2 is asked, then
# node3..., and a candidate fixes the start only once every candidate before it was silent to it
# (start_together; docs/start-together.md, "When node1 is dead").

# Wall clock with microseconds (busybox's date has no %N).
wall_clock() { adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d.%06d\n", s, u }'; }

# record_cpu <start|end> <extract-dir> [cgroup root] [proc cgroup file]: appends
# "<phase> <wall clock> <CPU µs> <CPUs>" to <extract-dir>/cpu_usage: this container's
# CPU time so far, from its cgroup (v2: cpu.stat usage_usec of the cgroup /proc/self/cgroup
# names, "/" in a container's own namespace; v1: cpuacct.usage, ns), and the CPUs it sees.
# The report sums the nodes' CPU time of one host over the run against its CPUs: a run that
# kept the host's CPUs busy measured the machine, not gomel (src/core/logs/host-load.ts).
# Neither file (no cgroup mounted): no record, and the run's load is "not recorded".
record_cpu() {
  _c_root="${3:-/sys/fs/cgroup}"
  _c_path=$(awk -F: '$1 == "0" { print $3; exit }' "${4:-/proc/self/cgroup}" 2>/dev/null)
  _c_usec=""
  if [ -r "$_c_root${_c_path%/}/cpu.stat" ]; then
    _c_usec=$(awk '$1 == "usage_usec" { print $2; exit }' "$_c_root${_c_path%/}/cpu.stat")
  elif [ -r "$_c_root/cpuacct/cpuacct.usage" ]; then
    read -r _c_ns <"$_c_root/cpuacct/cpuacct.usage" && _c_usec=$((_c_ns / 1000))
  fi
  case "$_c_usec" in '' | *[!0-9]*) return 0 ;; esac
  echo "$1 $(wall_clock) $_c_usec $(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo)" >>"$2/cpu_usage"
}

# One round over the hosts in $pending: a host whose answer matches the case
# pattern $1 has it appended to file $2; the others stay in $pending. A name is
# looked up once and its address kept; peers are asked eight at a time, each
# question bounded (a lookup too: on some overlays an unknown name hangs until a
# time-out).
ask_round() {
  : >"$start_dir/start-unanswered"
  jobs=""
  count=0
  for host in $pending; do
    peer_address=""
    [ -r "$start_dir/start-ip-$host" ] && read -r peer_address <"$start_dir/start-ip-$host"
    (
      [ -n "$peer_address" ] || peer_address=$(timeout 3 nslookup "$host" 2>/dev/null | awk '/^Name:/ { named = 1 } named && /^Address/ && $NF ~ /^[0-9.]+$/ { print $NF; exit }')
      if [ -n "$peer_address" ]; then
        echo "$peer_address" >"$start_dir/start-ip-$host"
        ask_peer "$1" "$2" "$host" "$peer_address"
      else
        echo "$host" | tee -a "$start_dir/start-silent" >>"$start_dir/start-unanswered"
      fi
    ) &
    jobs="$jobs $!"
    count=$((count + 1))
    if [ "$count" -ge 8 ]; then wait $jobs; jobs=""; count=0; fi
  done
  [ -n "$jobs" ] && wait $jobs # by PID: a bare wait would also wait for the listener
  pending=$(cat "$start_dir/start-unanswered")
}

# ask_peer <pattern> <answers file> <host> <address>: one question, at most 2 s.
ask_peer() {
  # Bounded as a whole: busybox nc -w bounds the connect only, and a peer frozen after the handshake never answers.
  peer_answer=$(timeout 2 nc -w 1 "$4" "$port" </dev/null 2>/dev/null)
  case "$peer_answer" in
  $1) echo "$peer_answer" >>"$2" ;;
  # Silent: its address is kept (no container of a run gets a new one: restart none), and
  # looking it up again costs the swarm's name server, which 64 busy nodes already slow to ~2 s.
  '') echo "$3" | tee -a "$start_dir/start-silent" >>"$start_dir/start-unanswered" ;;
  *) echo "$3" >>"$start_dir/start-unanswered" ;;
  esac
}

# start_in <answers file> <host asked>: "<start> <node that fixed it>" from the first answer of the
# file that carries a start of this run ("ready <when> done <start> by <node>"; without "by", the
# host asked), nothing if none does. A start before this node was ready is no start of this run (a
# container of an earlier one), nor is one after this node's own give-up plus the margin: no node of
# this run fixes one that late, and it would hold the node longer than a silent coordinator does
# (issue 30).
start_in() {
  awk -v mine="$ready_at" -v latest="$give_up" -v margin="$margin" -v asked="$2" '
    { for (i = 2; i < NF; i++) if ($i == "done") {
        s = $(i + 1)
        by = ($(i + 2) == "by" && $(i + 3) != "") ? $(i + 3) : asked
        if (s + 0 > mine + 0 && s + 0 <= latest + margin) { print s, by; exit }
    } }' "$1" 2>/dev/null
}

# The committee's $1-th host.
nth_host() { echo "$hosts" | sed -n "${1}p"; }

# fix_start <extract dir>: this node fixes the common start, as the coordinator (node1), or as the
# candidate $candidate_no that found every candidate before it silent. Every host but those
# candidates must answer (a silent peer may not have started yet: it is asked until it answers or
# the wait ends); the start is the margin after the last answer, so that it is never in the past
# however long the rounds took (64 busy nodes: the last answer came 20 s after the last ready moment).
# A start a peer already holds is taken instead: a coordinator that comes up after a candidate fixed
# one joins it. The candidates before this node are asked in every round too, last: one that answers
# is alive after all, and is followed again (returns 1, $candidate_no naming it).
fix_start() {
  earlier=$(echo "$hosts" | head -n $((candidate_no - 1)))
  pending=$(echo "$hosts" | tail -n +"$candidate_no")
  : >"$start_dir/start-answered"
  while :; do
    : >"$start_dir/start-silent"
    pending="$pending $earlier"
    ask_round "ready *" "$start_dir/start-answered"
    learned=$(start_in "$start_dir/start-answered" -)
    if [ -n "$learned" ]; then
      common_start=${learned% *} fixed_by=${learned#* }
      return 0
    fi
    if [ -n "$earlier" ]; then
      # Word lists padded with spaces, matched by case: no fork a host (256 a round).
      unanswered=" $(echo $pending) "
      earlier_no=0
      for host in $earlier; do
        earlier_no=$((earlier_no + 1))
        case "$unanswered" in *" $host "*) continue ;; esac
        echo "start: $host answers after all; following it" >&2
        candidate_no=$earlier_no silent_questions=0
        return 1
      done
      earlier_words=" $(echo $earlier) "
      pending=$(for host in $pending; do case "$earlier_words" in *" $host "*) ;; *) echo "$host" ;; esac; done)
    fi
    if [ -z "$pending" ]; then
      common_start=$(awk -v margin="$margin" -v now="$(wall_clock)" 'BEGIN { printf "%.6f\n", now + margin }')
      fixed_by=$(nth_host "$candidate_no")
      return 0
    fi
    if [ "$(date +%s)" -ge "$give_up" ]; then
      echo "start: after ${wait_s}s these peers still do not answer:" $pending "; starting anyway" >&2
      echo "$pending" >"$1/start_unanswered"
      return 0
    fi
    sleep 0.25
  done
}

# $1 committee file, $2 folder for records, $3 a command to run once the common
# start is known and before it comes (e.g. apply_network). Waits at most
# GOMEL_START_WAIT seconds (default 120) for the peers (or the coordinator); those
# that never answered go to $2/start_unanswered, and the node starts anyway.
start_together() {
  # Where the start's files live: /tmp in a node (faults.sh and the network script read the peers'
  # addresses there, start-ip-<host>); test/start-together.test.ts gives each of its local nodes its own.
  start_dir="${GOMEL_START_DIR:-/tmp}"
  port="${GOMEL_READY_PORT:-65432}"
  ready_at=$(wall_clock)
  echo "ready $ready_at" >"$start_dir/ready"
  nc -ll -p "$port" -e /bin/cat "$start_dir/ready" >/dev/null 2>&1 &
  hosts=$(cut -d'|' -f4 "$1" | cut -d' ' -f1 | sed 's/:[0-9]*$//')
  n=$(echo "$hosts" | wc -w)
  margin="${GOMEL_START_MARGIN:-$((3 + n / 32))}"
  # Swarm creates a committee's containers one after another (256 took 86-170 s on 2 cores): a node
  # created first waits for the last one as long as that takes, so the wait grows with N.
  wait_s="${GOMEL_START_WAIT:-$((120 + n))}"
  give_up=$(($(date +%s) + wait_s))
  # The candidates to fix the start are the committee's nodes in order: node1, the coordinator, then
  # node2, node3... A node asks the first one, once a second, until it has the start. One silent to
  # margin + 3 questions in a row is taken for dead, and the next one is asked: the margin is the
  # seconds in which a live coordinator's start reaches every node that asks (measured: at most
  # 2.3 s at 32 nodes), three questions more are its slack. A node that comes to its own turn fixes
  # the start (fix_start), only after it found every candidate before it silent: all the nodes that
  # reach each other take the start of the lowest live candidate. Every node asks one candidate at a
  # time, once a second: 64 nodes asking more often kept 2 cores busy forking the questions and the
  # answers. $start_dir/start-asked keeps "<candidate> silent|ready|done", one line a question.
  silent_limit=$((${margin%.*} + 3))
  candidate_no=1
  silent_questions=0
  common_start=""
  fixed_by=""
  : >"$start_dir/start-asked"
  while :; do
    # A twin's second instance (GOMEL_TWIN, twin:K) never fixes the start, even in slot 1: it learns it
    # like any node, and is not one of the hosts a candidate waits for.
    if [ "$candidate_no" = "${SLOT:-}" ] && [ -z "${GOMEL_TWIN:-}" ]; then
      fix_start "$2" && break
      continue
    fi
    # A twin's second instance asks a node of its own half (GOMEL_START_FROM), and only it: node K's
    # half drops it once they know the start, the coordinator among them (a real 8-node twin:3 run
    # waited 120 s).
    candidate=${GOMEL_START_FROM:-$(nth_host "$candidate_no")}
    pending=$candidate
    : >"$start_dir/start-silent"
    : >"$start_dir/start-heard"
    ask_round "ready *" "$start_dir/start-heard"
    learned=$(start_in "$start_dir/start-heard" "$candidate")
    if [ -n "$learned" ]; then
      echo "$candidate done" >>"$start_dir/start-asked"
      common_start=${learned% *} fixed_by=${learned#* }
      break
    elif [ -s "$start_dir/start-heard" ]; then
      # Alive (still waiting for its peers, or holding a start of no use to this node): asked on.
      echo "$candidate ready" >>"$start_dir/start-asked"
      silent_questions=0
    else
      echo "$candidate silent" >>"$start_dir/start-asked"
      silent_questions=$((silent_questions + 1))
      if [ "$silent_questions" -ge "$silent_limit" ] && [ -z "${GOMEL_START_FROM:-}" ]; then
        candidate_no=$((candidate_no % n + 1)) silent_questions=0
        next="asking $(nth_host "$candidate_no")"
        [ "$candidate_no" = "${SLOT:-}" ] && [ -z "${GOMEL_TWIN:-}" ] && next="this node, $(nth_host "$candidate_no"), fixes the start"
        echo "start: $candidate did not answer $silent_limit questions in a row; $next" >&2
      fi
    fi
    if [ "$(date +%s)" -ge "$give_up" ]; then
      echo "start: after ${wait_s}s the coordinator $candidate has no common start; starting anyway" >&2
      echo "$candidate" >"$2/start_unanswered"
      break
    fi
    sleep 1
  done
  # Known, it is passed on: any node asked for it answers it as its fixer does, and names the fixer.
  [ -n "$common_start" ] && echo "ready $ready_at done $common_start by $fixed_by" >"$start_dir/ready.next" && mv "$start_dir/ready.next" "$start_dir/ready"
  # Conditions are applied also when the node starts without a common start: never a silently unshaped run.
  [ -n "${3:-}" ] && "$3" "$2"
  [ -n "$common_start" ] || return 0
  # start_plan: "<common start> <when this node knew it> <node that fixed it>" (a node that knew it
  # too late starts late; the report reads the first two fields, src/commands/report.ts).
  delay=$(awk -v now="$(wall_clock)" -v start="$common_start" -v by="$fixed_by" -v plan="$2/start_plan" 'BEGIN { d = start - now; printf "%.6f %.6f %s\n", start, now, by >plan; printf "%.6f\n", (d > 0 ? d : 0) }')
  sleep "$delay"
}

# Ships every file of /extract on stdout, to the manager. The service's log
# stream is the one channel a swarm manager has to every node, wherever it runs
# (copying files out of a container works only through the engine that runs it);
# `gomelctl deploy logs` takes the files back out of it (src/core/logs/shipped.ts).
# Every line is a record of its own, because the engine interleaves stdout and
# stderr line by line (a gomel panic printed just before was seen inside a block
# of bare base64, which then did not decode), and may cut a long output:
#   gomelctl-ship <token> file <i> <path> <bytes> <sha256> <lines>
#   gomelctl-ship <token> data <i> <seq> <base64 of the gzipped file, 4000 a line>
#   gomelctl-ship <token> end <files>
# The token tells this shipment from another task's of the same service; the
# sequence numbers and the checksum tell what was lost or corrupted, per file.
ship_extract() {
  from="${GOMEL_EXTRACT:-/extract}"
  token="$(hostname)-$(date +%s)"
  i=0
  # Largest first: an engine that rotates a long output loses its oldest lines,
  # and the small records (exit_status, stderr.txt, started_at) must survive.
  for f in $(cd "$from" && find . -type f ! -name '.*' -exec ls -S {} + 2>/dev/null | sed 's|^\./||'); do
    case "$f" in *[!A-Za-z0-9._/-]*) continue ;; esac
    gzip -c "$from/$f" >"${TMPDIR:-/tmp}/ship.gz" || continue
    base64 -w 4000 "${TMPDIR:-/tmp}/ship.gz" >"${TMPDIR:-/tmp}/ship.b64"
    echo "gomelctl-ship $token file $i $f $(wc -c <"$from/$f") $(sha256sum <"$from/$f" | cut -d' ' -f1) $(wc -l <"${TMPDIR:-/tmp}/ship.b64")"
    awk -v p="gomelctl-ship $token data $i" '{ print p, NR - 1, $0 }' "${TMPDIR:-/tmp}/ship.b64"
    i=$((i + 1))
  done
  echo "gomelctl-ship $token end $i"
  rm -f "${TMPDIR:-/tmp}/ship.gz" "${TMPDIR:-/tmp}/ship.b64"
}

# Network conditions (gomelctl deploy spawn --net / --zones): GOMEL_NET_SCRIPT holds
# this node's tc/iptables commands (base64). Applied after the peers answered, so
# their names resolve; recorded in $1/network.txt. A condition the kernel cannot
# apply stops the node before gomel starts: never a silently unshaped run.
apply_network() {
  [ -n "${GOMEL_NET_SCRIPT:-}" ] || return 0
  echo "$GOMEL_NET_SCRIPT" | base64 -d >/tmp/network.sh
  if sh /tmp/network.sh "$1" >"$1/network.txt" 2>/tmp/network.err; then return 0; fi
  if grep -q "kind is unknown" /tmp/network.err && grep -q netem /tmp/network.sh; then
    why="this kernel has no netem (sch_netem), which --net-impl netem needs; --net-impl auto or userspace delays with gomel-delayer instead"
  else
    why=$(grep -v '^$' /tmp/network.err | tail -n 1)
  fi
  echo "run.sh: network conditions of node${SLOT:-?} not applied: $why" | tee "$1/network_error" >&2
  ship_extract
  exit 3
}

# Progress for `gomelctl up` while the node runs (src/core/logs/live-progress.ts):
# every GOMEL_PROGRESS_S seconds (default 3) one line on stdout,
#   gomelctl-progress <wall clock> <highest prime level or -> <units ordered> <fault actions applied>
# The service log stream carries it to the manager from any host. Only the bytes
# gomel wrote since the last look are read, up to their last whole line: a
# 20 MB log is not scanned again every few seconds by every node.
# $1: gomel's log file (in the working folder, beside faults.log).
report_progress() {
  _p_offset=0 _p_level=- _p_ordered=0
  while sleep "${GOMEL_PROGRESS_S:-3}"; do
    _p_size=$({ wc -c <"$1"; } 2>/dev/null) || _p_size=0
    if [ "${_p_size:-0}" -gt "$_p_offset" ]; then
      # The chunk, a newline and a marker: the line just before the marker is empty when the chunk
      # ended with a whole line, else it is a cut line, left for the next look. Neither is counted.
      set -- "$1" $({ tail -c +$((_p_offset + 1)) "$1" | head -c $((_p_size - _p_offset)); echo; echo "@end"; } | awk '
        $0 == "@end" { print b + 0, z + 0, (q == "" ? "-" : q); exit }
        {
          if (have) {
            b += length(prev) + 1
            if (prev ~ /"E":"Z"/) z++
            if (match(prev, /"Q":[0-9]+/)) q = substr(prev, RSTART + 4, RLENGTH - 4)
          }
          prev = $0; have = 1
        }')
      _p_offset=$((_p_offset + ${2:-0}))
      _p_ordered=$((_p_ordered + ${3:-0}))
      [ "${4:--}" != "-" ] && _p_level=$4
      set -- "$1"
    fi
    echo "gomelctl-progress $(wall_clock) $_p_level $_p_ordered $(cat faults.log 2>/dev/null | grep -c .)"
  done
}
