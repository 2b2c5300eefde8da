# Sourced by run.sh: the node applies its own part of the fault plan (issue 24),
# timed from the common start all nodes share (start_together, node-lib.sh).
# The node applies it, not the manager: the manager's engine cannot reach the
# containers of a worker host, so a plan applied through it would miss every
# node that runs elsewhere. busybox sh; also runs under dash (the tests).
#
# GOMEL_FAULTS: base64 of this node's schedule (src/core/faults/plan.ts,
# faultSchedules), one action a line, in time order:
#   <ms after the start> kill | term | stop | cont | restart | slow <fraction> | unslow
#   <ms after the start> drop <ip-or-host> ... | undrop <ip-or-host> ...
#   <ms after the start> mute <ip-or-host> ... | unmute <ip-or-host> ...
# Each applied action is one line of <extract-dir>/faults.log (parseFaultsLog):
#   <wall clock s.micros when applied> <ms> <action> [args] ok|failed: <reason>
# State lives beside the pid file (keep it out of /extract, which is shipped):
#   <pid-file>.restart    written by a restart action, consumed by await_restart
#   <pid-file>.restarted  how many restarts run.sh made (await_restart)
#   <pid-file>.ip.<host>  the address a drop used, for its undrop
#   <pid-file>.dropped    the peers cut off now (a live heal undoes them), one a line
#   <pid-file>.muted      the peers it is mute to now (a live unmute undoes them), one a line
#   <pid-file>.done       the schedule ran to its end

# Wall clock with a fraction: node-lib.sh's (busybox adjtimex) when sourced, else date.
faults_now() {
  if command -v wall_clock >/dev/null 2>&1; then wall_clock; return; fi
  _fn=$(date +%s.%N 2>/dev/null)
  case "$_fn" in '' | *[!0-9.]*) date +%s ;; *) echo "$_fn" ;; esac
}

# apply_faults <extract-dir> <start, epoch seconds with fraction> <gomel-pid-file>
# Runs the schedule to its end; run.sh starts it in the background (&) once gomel
# runs and its pid is in the pid file, and kills it when the node ends. Each
# signal goes to the pid the file holds at that moment (a restart writes a new one).
apply_faults() {
  [ -n "${GOMEL_FAULTS:-}" ] || return 0
  _f_dir=$1 _f_start=$2 _f_pidfile=$3
  rm -f "$_f_pidfile.done" "$_f_pidfile.restart" "$_f_pidfile.restarted" "$_f_pidfile.slow" "$_f_pidfile.dropped" "$_f_pidfile.muted" "$_f_pidfile.ended"
  _f_to=""
  # A bounded wait for anything that may block (an iptables lock, a name that never resolves).
  command -v timeout >/dev/null 2>&1 && _f_to="timeout 5"
  if ! echo "$GOMEL_FAULTS" | base64 -d >"$_f_pidfile.schedule" 2>/dev/null; then
    echo "$(faults_now) 0 schedule failed: GOMEL_FAULTS is not base64" >>"$_f_dir/faults.log"
    : >"$_f_pidfile.done"
    return 1
  fi
  while read -r _f_ms _f_action _f_args <&3; do
    case "$_f_ms" in '' | *[!0-9]*) echo "$(faults_now) 0 schedule failed: not a schedule line: $_f_ms $_f_action $_f_args" >>"$_f_dir/faults.log"; continue ;; esac
    sleep "$(awk -v s="$_f_start" -v ms="$_f_ms" -v now="$(faults_now)" 'BEGIN { d = s + ms / 1000 - now; printf "%.6f\n", (d > 0 ? d : 0) }')"
    _f_when=$(faults_now)
    # shellcheck disable=SC2086 # the hosts of drop/undrop are words
    _faults_do "$_f_action" $_f_args 2>"$_f_pidfile.err"
    _f_status=$(_faults_status $? "$_f_pidfile.err")
    echo "$_f_when $_f_ms $_f_action${_f_args:+ $_f_args} $_f_status" >>"$_f_dir/faults.log"
  done 3<"$_f_pidfile.schedule"
  rm -f "$_f_pidfile.schedule" "$_f_pidfile.err"
  : >"$_f_pidfile.done"
}

# faults.log's status of an action: ok, or "failed: " and the last line it wrote on stderr.
# _faults_status <exit status> <its stderr file>
_faults_status() {
  [ "$1" -eq 0 ] && { echo ok; return; }
  _f_why=$(grep -v '^$' "$2" | tail -n 1 | tr -d '\r')
  echo "failed: ${_f_why:-exit status not 0}"
}

# One action; on failure, the reason is the last line on stderr.
_faults_do() {
  _f_p=""
  [ -r "$_f_pidfile" ] && read -r _f_p <"$_f_pidfile"
  case "$1" in
    kill | term | stop | cont | slow | restart | resume)
      case "$_f_p" in '' | *[!0-9]*) echo "no gomel pid in $_f_pidfile" >&2; return 1 ;; esac ;;
  esac
  case "$1" in
    kill) kill -KILL "$_f_p" ;;
    term) kill -TERM "$_f_p" ;;
    stop) kill -STOP "$_f_p" ;;
    cont) kill -CONT "$_f_p" ;;
    slow)
      # A CPU quota without cgroup rights: in each 100 ms gomel runs <fraction>
      # of it and is stopped for the rest. The loop ends when gomel is gone. Its pid
      # is kept in <pid-file>.slow: a live `gomelctl fault resume` ends it from
      # another process (control_request).
      case "${2:-}" in 0.[0-9]*) ;; *) echo "slow needs a fraction between 0 and 1, not ${2:-nothing}" >&2; return 1 ;; esac
      _faults_slowed && { echo "already slowed" >&2; return 1; }
      kill -0 "$_f_p" || return 1
      _f_on=$(awk -v c="$2" 'BEGIN { printf "%.3f\n", c / 10 }')
      _f_off=$(awk -v c="$2" 'BEGIN { printf "%.3f\n", (1 - c) / 10 }')
      (while kill -CONT "$_f_p" 2>/dev/null; do
        sleep "$_f_on"
        kill -STOP "$_f_p" 2>/dev/null || break
        sleep "$_f_off"
      done) </dev/null >/dev/null 2>&1 &
      echo "$!" >"$_f_pidfile.slow"
      ;;
    unslow)
      _faults_slowed || { echo "not slowed" >&2; return 1; }
      _faults_unslow
      ;;
    resume)
      # Live: whatever holds gomel, a pause or a slow loop, is let go.
      _faults_slowed && _faults_unslow && return 0
      kill -CONT "$_f_p"
      ;;
    drop) shift; _faults_iptables -I "$@" ;;
    undrop) shift; _faults_iptables -D "$@" ;;
    heal)
      # Live: every drop still in place on this node is undone.
      [ -s "$_f_pidfile.dropped" ] || { echo "no peer is cut off from this node" >&2; return 1; }
      # shellcheck disable=SC2046 # one host a line
      _faults_iptables -D $(cat "$_f_pidfile.dropped")
      ;;
    mute) shift; _faults_mute -I "$@" ;;
    unmute)
      shift
      # Live (no peers named): every mute still in place on this node is undone.
      if [ $# -eq 0 ]; then
        [ -s "$_f_pidfile.muted" ] || { echo "not mute to any peer" >&2; return 1; }
        # shellcheck disable=SC2046 # one host a line
        set -- $(cat "$_f_pidfile.muted")
      fi
      _faults_mute -D "$@"
      ;;
    restart)
      # run.sh starts gomel again (await_restart); here only the request. A gomel
      # that still runs (its crash failed) is not started twice; one killed and not
      # yet reaped by run.sh (a zombie, which kill -0 still finds) is gone.
      if _faults_alive "$_f_p"; then echo "gomel (pid $_f_p) is still running" >&2; return 1; fi
      echo "$_f_ms" >"$_f_pidfile.restart.tmp" && mv "$_f_pidfile.restart.tmp" "$_f_pidfile.restart"
      ;;
    *) echo "unknown action" >&2; return 1 ;;
  esac
}

# A process runs and is not a zombie (an ended loop not yet reaped still answers kill -0).
_faults_alive() {
  [ -r "/proc/$1/stat" ] || return 1
  case "$(cat "/proc/$1/stat" 2>/dev/null)" in *") Z "* | '') return 1 ;; esac
}

# A slow loop runs (its pid in <pid-file>.slow).
_faults_slowed() {
  _f_sl=""
  [ -r "$_f_pidfile.slow" ] && read -r _f_sl <"$_f_pidfile.slow"
  [ -n "$_f_sl" ] && _faults_alive "$_f_sl"
}

# Ends the slow loop, waits until it is gone (no late SIGSTOP after the SIGCONT), resumes gomel.
_faults_unslow() {
  kill "$_f_sl" 2>/dev/null
  wait "$_f_sl" 2>/dev/null # when it is this shell's own child; another's is polled
  while _faults_alive "$_f_sl"; do sleep 0.01; done
  rm -f "$_f_pidfile.slow"
  case "$_f_p" in '' | *[!0-9]*) echo "no gomel pid in $_f_pidfile" >&2; return 1 ;; esac
  kill -CONT "$_f_p"
}

# _faults_iptables -I|-D <ip-or-host> ...: drop (or stop dropping) all traffic
# from and to each peer, INPUT and OUTPUT. Inserted first, before any ACCEPT;
# a rule inserted twice (two windows) stays until deleted twice. Needs NET_ADMIN.
# Each peer whose rules are in place is one line of <pid-file>.dropped (what a
# live heal undoes), written per peer: a host that fails leaves the others' done.
_faults_iptables() {
  _f_o=$1
  shift
  _faults_peers _faults_cut "$_f_o" "$_f_pidfile.dropped" "$@"
}

# _faults_cut -I|-D <ip>: INPUT and OUTPUT. Half a cut is no cut: an inserted INPUT rule whose
# OUTPUT rule fails is taken back.
_faults_cut() {
  $_f_to iptables "$1" INPUT -s "$2" -j DROP || return 1
  $_f_to iptables "$1" OUTPUT -d "$2" -j DROP && return 0
  [ "$1" = -I ] && $_f_to iptables -D INPUT -s "$2" -j DROP
  return 1
}

# _faults_peers <rule> -I|-D <tracking file> <ip-or-host> ...: runs "<rule> -I|-D <address>" for each
# peer, and keeps the peers whose rules are in place, one a line of the tracking file (what a live
# heal or unmute undoes), written per peer: a host that fails leaves the others' done.
_faults_peers() {
  command -v iptables >/dev/null 2>&1 || { echo "iptables not found" >&2; return 1; }
  _f_rule=$1 _f_op=$2 _f_track=$3
  shift 3
  _f_failed=0
  for _f_h in "$@"; do
    case "$_f_h" in *[!A-Za-z0-9._:-]*) echo "$_f_h: not a host name or address" >&2; _f_failed=1; continue ;; esac
    _f_ip=$(_faults_ip "$_f_h")
    [ -n "$_f_ip" ] || { echo "$_f_h does not resolve" >&2; _f_failed=1; continue; }
    "$_f_rule" "$_f_op" "$_f_ip" || { _f_failed=1; continue; }
    _faults_track "$_f_op" "$_f_h" "$_f_track"
  done
  return "$_f_failed"
}

# _faults_track -I|-D <host> <file>: a rule of this host put in place (a line added) or taken back (one removed).
_faults_track() {
  if [ "$1" = -I ]; then
    echo "$2" >>"$3"
  else
    awk -v h="$2" '$0 == h && !gone { gone = 1; next } { print }' "$3" >"$3.tmp" 2>/dev/null
    mv "$3.tmp" "$3"
  fi
}

# What mute drops: a TCP segment that carries data. u32 reads past the IP header (IHL) and the TCP
# header (data offset) and matches when 4 bytes of payload are there; a segment without payload
# (SYN, SYN-ACK, ACK, FIN) is out of its reach and passes (a 1-3 byte one does too).
MUTE_MATCH='0>>22&0x3C@12>>26&0x3C@0>>24=0:255'

# _faults_mute -I|-D <ip-or-host> ...: this node mute to each peer (or no longer): every TCP segment
# it sends to the peer's address that carries data is dropped, in OUTPUT only. The peers' connections
# to it still open and what they send is acknowledged, so gomel hears them (their multicast reaches it),
# and nothing it says reaches them: not its units, nor its requests, nor its answers. Each peer
# whose rule is in place is one line of <pid-file>.muted (what a live unmute undoes).
_faults_mute() {
  _f_o=$1
  shift
  _faults_peers _faults_mute_rule "$_f_o" "$_f_pidfile.muted" "$@"
}

_faults_mute_rule() { $_f_to iptables "$1" OUTPUT -d "$2" -p tcp -m u32 --u32 "$MUTE_MATCH" -j DROP; }

# The IPv4 address of a peer: as given, the one its drop used, or from the resolver
# (the answer after "Name:", never the resolver's own "Address:" line).
_faults_ip() {
  case "$1" in *[!0-9.]*) ;; *) echo "$1"; return ;; esac
  if [ -s "$_f_pidfile.ip.$1" ]; then cat "$_f_pidfile.ip.$1"; return; fi
  # The address start_together asked it at (node-lib.sh): no lookup on a busy node.
  if [ -s "/tmp/start-ip-$1" ]; then cp "/tmp/start-ip-$1" "$_f_pidfile.ip.$1" && cat "$_f_pidfile.ip.$1"; return; fi
  _fi=$($_f_to nslookup "$1" 2>/dev/null | awk '/^Name:/ { n = 1 } n && /^Address/ { a = $NF } END { print a }')
  case "$_fi" in '' | *[!0-9.]*) _fi=$(getent hosts "$1" 2>/dev/null | awk '{ print $1; exit }') ;; esac
  case "$_fi" in '' | *[!0-9.]*) return ;; esac
  echo "$_fi" >"$_f_pidfile.ip.$1"
  echo "$_fi"
}

# Twins (twin:K, src/core/faults/twins.ts): GOMEL_TWIN_SETUP holds what this instance sets up before
# gomel starts (base64), one line each:
#   drop <host> ...        cut off, both ways, as a partition does (_faults_iptables)
#   alias <name> <host>    <name> resolves to <host>'s address here: a line of /etc/hosts, which gomel
#                          (Go, no nsswitch.conf) reads before DNS
# run.sh runs it from start_together's hook, once the common start is known. Each line is one of
# faults.log, "<wall clock> 0 twin <line> ok|failed: <reason>". Its state lives apart from the
# schedule's (/tmp/twin.*): a live heal never undoes a twin's halves.
# apply_twin <extract-dir>
apply_twin() {
  [ -n "${GOMEL_TWIN_SETUP:-}" ] || return 0
  _f_dir=$1 _f_pidfile="${GOMEL_TWIN_STATE:-/tmp/twin}" _f_to=""
  command -v timeout >/dev/null 2>&1 && _f_to="timeout 5"
  if ! echo "$GOMEL_TWIN_SETUP" | base64 -d >"$_f_pidfile.setup" 2>/dev/null; then
    echo "$(faults_now) 0 twin setup failed: GOMEL_TWIN_SETUP is not base64" >>"$_f_dir/faults.log"
    return 0
  fi
  while read -r _t_action _t_args <&3; do
    _f_when=$(faults_now)
    # shellcheck disable=SC2086 # the hosts are words
    case "$_t_action" in
      drop) _twin_resolvable $_t_args && _faults_iptables -I $_t_args 2>"$_f_pidfile.err" ;;
      alias) _twin_alias $_t_args 2>"$_f_pidfile.err" ;;
      *) echo "unknown twin action" >"$_f_pidfile.err"; false ;;
    esac
    _f_status=$(_faults_status $? "$_f_pidfile.err")
    echo "$_f_when 0 twin $_t_action${_t_args:+ $_t_args} $_f_status" >>"$_f_dir/faults.log"
  done 3<"$_f_pidfile.setup"
  return 0
}

# _twin_resolvable <host> ...: waits until each host resolves, at most GOMEL_TWIN_RESOLVE_S (30) seconds.
# The other instance of a twin is no host the start waits for (node-lib.sh start_together): its node
# can learn the common start before the other's container is up, and its name resolves only then (a
# fresh-clone suite run: "twin drop node3-twin failed: node3-twin does not resolve", the twin not run).
_twin_resolvable() {
  _t_until=$(($(date +%s) + ${GOMEL_TWIN_RESOLVE_S:-30}))
  for _t_h in "$@"; do
    while [ -z "$(_faults_ip "$_t_h")" ] && [ "$(date +%s)" -lt "$_t_until" ]; do sleep 1; done
  done
  return 0
}

# _twin_alias <name> <host>: <name> resolves to <host>'s address on this node. The address is
# asked of DNS (nslookup, or the one start_together used), never of /etc/hosts, so it is the host's own.
_twin_alias() {
  case "${1:-}" in '' | *[!A-Za-z0-9._-]*) echo "${1:-}: not a host name" >&2; return 1 ;; esac
  case "${2:-}" in '' | *[!A-Za-z0-9._-]*) echo "${2:-}: not a host name" >&2; return 1 ;; esac
  _t_ip=$(_faults_ip "$2")
  [ -n "$_t_ip" ] || { echo "$2 does not resolve" >&2; return 1; }
  echo "$_t_ip $1" >>"${GOMEL_HOSTS_FILE:-/etc/hosts}"
}

# await_restart <gomel-pid-file>: run.sh calls it after gomel exited.
# 0: the plan restarts gomel now — run.sh starts it again with the same key and
# writes the new pid to the pid file; 1: no restart is left in this node's
# schedule (or the schedule ended without one): the node is done. Polls every
# 0.1 s, so a trapped SIGTERM of run.sh runs in between.
await_restart() {
  _fr_total=$(echo "${GOMEL_FAULTS:-}" | base64 -d 2>/dev/null | grep -c '^[0-9]* restart$')
  _fr_done=$(cat "$1.restarted" 2>/dev/null || echo 0)
  [ "${_fr_total:-0}" -gt "$_fr_done" ] || return 1
  while :; do
    # run.sh was told to stop (its TERM trap), or up ended the node (control_request end): no restart after that.
    [ -n "${stopping:-}" ] && return 1
    [ -e "$1.ended" ] && return 1
    if [ -e "$1.restart" ]; then
      rm -f "$1.restart"
      echo $((_fr_done + 1)) >"$1.restarted"
      return 0
    fi
    if [ -e "$1.done" ]; then
      [ -e "$1.restart" ] && continue
      return 1
    fi
    sleep 0.1
  done
}

# Live faults (`gomelctl fault`): run.sh listens on GOMEL_CONTROL_PORT while gomel
# runs, and each connection runs this with its one request line on stdin:
#   <token> <action> [args]     the actions of a schedule (kill, term, stop, cont,
#                               slow <fraction>, unslow, drop/undrop <host> ...) and
#                               resume (a pause or a slow let go), heal (every drop undone),
#                               mute <host> ... and unmute (every mute undone); and end
#                               (up's: gomel ended with SIGTERM, not logged, answered "end ok")
# The token is the deployment's random secret, the Swarm secret /run/secrets/gomel-control
# (GOMEL_CONTROL_TOKEN_FILE): a request from anyone who does not hold it never acts.
# Each connection holds a shell (nc -ll -e): one that sends no request line within
# GOMEL_CONTROL_READ_S seconds (default 5) is answered and closed, so an idle peer
# cannot hold shells for good. The action is applied at once, logged in
# faults.log like a planned one (its ms counted from the common start, started_at),
# and the same line is the answer. A request that is refused changes nothing.
# control_request <extract-dir> <gomel-pid-file>
control_request() {
  _f_dir=$1 _f_pidfile=$2 _f_to=""
  command -v timeout >/dev/null 2>&1 && _f_to="timeout 5"
  _c_read=""
  command -v timeout >/dev/null 2>&1 && _c_read="timeout ${GOMEL_CONTROL_READ_S:-5}"
  # head, not read -t: dash's read has no time limit.
  _c_line=$($_c_read head -n 1 | tr -d '\r')
  [ -n "$_c_line" ] || { echo "refused: no request"; return 0; }
  _c_token=""
  _c_file="${GOMEL_CONTROL_TOKEN_FILE:-/run/secrets/gomel-control}"
  [ -r "$_c_file" ] && read -r _c_token <"$_c_file"
  set -f
  # shellcheck disable=SC2086 # the request is words
  set -- $_c_line
  set +f
  if [ -z "$_c_token" ] || [ "${1:-}" != "$_c_token" ]; then echo "refused: not this deployment's token"; return 0; fi
  shift
  case "${1:-}" in kill | term | stop | cont | resume | slow | unslow | drop | undrop | heal | mute | unmute | end) ;; *) echo "refused: unknown action ${1:-}"; return 0 ;; esac
  if [ "$1" = end ]; then
    # `up` ends a node still running once it judged the run over (a stall, --timeout), so that run.sh
    # ships its /extract in the service output: a node on another host has no other way home. Not a
    # fault (the run was over): no faults.log line, and a restart still planned is not waited for.
    exec 2>"$_f_pidfile.live.err"
    : >"$_f_pidfile.ended"
    _faults_do term
    echo "end $(_faults_status $? "$_f_pidfile.live.err")"
    rm -f "$_f_pidfile.live.err"
    return 0
  fi
  _f_start=""
  [ -r "$_f_dir/started_at" ] && read -r _f_start <"$_f_dir/started_at"
  [ -n "$_f_start" ] || { echo "refused: gomel has not started"; return 0; }
  _f_when=$(faults_now)
  _f_ms=$(awk -v s="$_f_start" -v now="$_f_when" 'BEGIN { d = (now - s) * 1000; printf "%d\n", (d > 0 ? d : 0) }')
  # stderr for good, not on the call: dash keeps a copy of a redirected fd open in the
  # background children a call starts (a slow loop), and the answer would never end.
  exec 2>"$_f_pidfile.live.err"
  _faults_do "$@"
  _f_status=$(_faults_status $? "$_f_pidfile.live.err")
  rm -f "$_f_pidfile.live.err"
  echo "$_f_when $_f_ms $* $_f_status" | tee -a "$_f_dir/faults.log"
}
