#!/usr/bin/env bash
# A multi-host Docker Swarm on one Linux machine, for trying (and testing) what
# gomelctl does across hosts before you own several machines: N Docker engines,
# each in its own network namespace with its own hostname, joined as one swarm,
# and a registry every host pulls from.
#
#   docker/lab.sh up [N]      start N hosts (default 3); prints how to point gomelctl at it
#   docker/lab.sh env         the DOCKER_HOST and registry of a running lab
#   docker/lab.sh kill-host K host K dies: its engine and every container on it, at once
#   docker/lab.sh freeze-host K S  host K's engine stops for S seconds (SIGSTOP, then SIGCONT), its containers
#                             run on: a host alive but too busy to send its heartbeats, as a loaded one is
#   docker/lab.sh down        stop everything it started; leaves no namespace, engine, cgroup or file
#
# Run as root. GOMELCTL_LAB names the lab (default "gl"); GOMELCTL_LAB_NET is the
# /24 its hosts live on (default 172.31.250: it exists only inside this machine).
# Facts this relies on (checked with Debian's docker.io 20.10): the hosts' switch
# is a bridge in a namespace of its own (the main engine drops forwarded packets
# in the root namespace); engines start under nsenter (ip netns exec remounts
# /sys and dockerd fails); services need dnsrr endpoints (no IPVS).
set -euo pipefail

LAB="${GOMELCTL_LAB:-gl}"
NET="${GOMELCTL_LAB_NET:-172.31.250}"
RUN="/run/gomelctl-lab-$LAB"
STATE="/var/lib/gomelctl-lab-$LAB"
BASE_IMAGE="${GOMELCTL_BASE_IMAGE:-gomelctl/base:busybox}"
# Swarm's dispatcher heartbeat: a host that misses it for three periods is declared down, and the
# orchestrator shuts its tasks down when it registers again. 5 s (Docker's default) was chosen by
# measurement (issue 36): with 32 real gomel nodes over the 3 hosts (2 cores) an engine's heartbeat
# came up to 3.3 s late (5 runs), which at 1 s (3 s to down) shut healthy hosts' nodes down; at
# 64 nodes it came up to 33 s late, which no period spares (docs/several-hosts.md).
HEARTBEAT="${GOMELCTL_LAB_HEARTBEAT:-5s}"
# The engines' niceness (see up): 0 makes them share the CPU evenly with everything else here.
PRIORITY="${GOMELCTL_LAB_NICE:--10}"
# Measurement only: each engine logs at debug level, where its agent writes a line per heartbeat.
DEBUG=$([ -n "${GOMELCTL_LAB_DEBUG:-}" ] && echo --debug || true)
log() { echo "lab: $*" >&2; }
die() { log "$*"; exit 1; }
ns() { echo "$LAB-h$1"; }
sock() { echo "unix://$RUN/h$1.sock"; }
dk() { local k=$1; shift; docker -H "$(sock "$k")" "$@"; }
hosts() { cat "$RUN/hosts" 2>/dev/null || true; }

up() {
  local n=${1:-3} k
  [ "$(id -u)" = 0 ] || die "run as root (it creates network namespaces and engines)"
  for tool in ip nsenter unshare dockerd docker docker-registry; do command -v "$tool" >/dev/null || die "needs $tool (run docker/setup.sh; ip comes with Debian's iproute2)"; done
  [ -e "$RUN/hosts" ] && die "lab $LAB is already up ($(hosts | wc -l) hosts); docker/lab.sh down first"
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "no $BASE_IMAGE on the local engine; run docker/setup.sh first"
  mkdir -p "$RUN" "$STATE"

  # The switch: a bridge in its own namespace, and one leg into the root namespace
  # so that gomelctl (here) reaches the lab's registry and engines' published ports.
  ip netns add "$LAB-sw"
  ip -n "$LAB-sw" link set lo up
  ip -n "$LAB-sw" link add br0 type bridge
  ip -n "$LAB-sw" link set br0 up
  ip link add "$LAB-0" type veth peer name p0 netns "$LAB-sw"
  ip addr add "$NET.254/24" dev "$LAB-0"
  ip link set "$LAB-0" up
  ip -n "$LAB-sw" link set p0 master br0 up

  for k in $(seq 1 "$n"); do
    ip netns add "$(ns "$k")"
    ip link add eth0 netns "$(ns "$k")" type veth peer name "p$k" netns "$LAB-sw"
    ip -n "$LAB-sw" link set "p$k" master br0 up
    ip -n "$(ns "$k")" addr add "$NET.$k/24" dev eth0
    ip -n "$(ns "$k")" link set eth0 up
    ip -n "$(ns "$k")" link set lo up
    echo "$k" >>"$RUN/hosts"
  done

  # The registry every host pulls from, on host 1's address.
  mkdir -p "$STATE/registry"
  cat >"$STATE/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: $NET.1:5000
YML
  nsenter --net="/run/netns/$(ns 1)" docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 &

  # One engine per host, with its own state, hostname and cgroup parent, and ahead of this machine's other
  # work for the CPU (nice -10, inherited by its containerd and containers): a real host has CPUs of its own.
  # Beside the single-host tests (load ~20 on 2 cores) an engine at the same priority sent no heartbeat
  # for over 15 s and the swarm stopped a healthy host's node: the very fault the lab's test makes on purpose.
  for k in $(seq 1 "$n"); do
    mkdir -p "$STATE/h$k" "$RUN/h$k"
    echo '{}' >"$STATE/h$k/daemon.json"
    nice -n "$PRIORITY" nsenter --net="/run/netns/$(ns "$k")" unshare --uts sh -c "hostname $LAB-h$k && exec dockerd \
      --data-root $STATE/h$k/data --exec-root $RUN/h$k/exec --pidfile $RUN/h$k/docker.pid \
      -H $(sock "$k") --config-file $STATE/h$k/daemon.json --cgroup-parent /$LAB-h$k \
      --insecure-registry $NET.1:5000 $DEBUG" >"$STATE/h$k/dockerd.log" 2>&1 &
  done
  for k in $(seq 1 "$n"); do
    for _ in $(seq 1 60); do dk "$k" info >/dev/null 2>&1 && break; sleep 0.5; done
    dk "$k" info >/dev/null 2>&1 || { tail -n 20 "$STATE/h$k/dockerd.log" >&2; die "the engine of host $k did not start"; }
  done
  for _ in $(seq 1 30); do curl -fsS "http://$NET.1:5000/v2/" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "http://$NET.1:5000/v2/" >/dev/null || die "the lab registry did not start: $(tail -n 5 "$STATE/registry.log")"

  dk 1 swarm init --advertise-addr "$NET.1" --default-addr-pool 10.230.0.0/16 --dispatcher-heartbeat "$HEARTBEAT" >/dev/null
  local token
  token=$(dk 1 swarm join-token -q worker)
  for k in $(seq 2 "$n"); do dk "$k" swarm join --token "$token" --advertise-addr "$NET.$k" "$NET.1:2377" >/dev/null; done
  # Images are built on the manager: it needs the local base image (nothing can be pulled).
  docker save "$BASE_IMAGE" | dk 1 load >/dev/null
  cat >"$RUN/env" <<ENV
export DOCKER_HOST=$(sock 1)
export GOMELCTL_LAB_REGISTRY=$NET.1:5000
ENV
  log "$n hosts up: $(dk 1 node ls --format '{{.Hostname}}' | sort | tr '\n' ' ')"
  log "point gomelctl at it: source <(docker/lab.sh env); gomelctl up --registry \$GOMELCTL_LAB_REGISTRY --spread"
}

# Every process of a host: its namespace's (engine, containerd, shims) and its containers' (cgroup).
host_pids() {
  local k=$1
  { ip netns pids "$(ns "$k")" 2>/dev/null || true
    cat /sys/fs/cgroup/pids/"$(ns "$k")"/*/cgroup.procs /sys/fs/cgroup/"$(ns "$k")"/*/cgroup.procs 2>/dev/null || true
  } | sort -u
}

kill_host() {
  local k=$1 pids
  pids=$(host_pids "$k")
  # shellcheck disable=SC2086
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
  log "host $k killed"
}

freeze_host() {
  local k=$1 seconds=$2 pid
  pid=$(cat "$RUN/h$k/docker.pid")
  kill -STOP "$pid"
  sleep "$seconds"
  kill -CONT "$pid"
  log "host $k's engine was frozen ${seconds}s"
}

down() {
  local k pids
  for k in $(hosts); do
    pids=$(ip netns pids "$(ns "$k")" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null || true
  done
  for _ in $(seq 1 30); do
    pids=$(for k in $(hosts); do host_pids "$k"; done)
    [ -z "$pids" ] && break
    sleep 0.5
  done
  # shellcheck disable=SC2086
  for k in $(hosts); do pids=$(host_pids "$k"); [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true; done
  sleep 0.5
  grep -E " ($STATE|$RUN)[/ ]" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null || true
  for k in $(hosts); do
    ip netns del "$(ns "$k")" 2>/dev/null || true
    for cg in /sys/fs/cgroup/*/"$(ns "$k")" /sys/fs/cgroup/"$(ns "$k")"; do
      [ -d "$cg" ] || continue
      find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  done
  ip netns del "$LAB-sw" 2>/dev/null || true
  ip link del "$LAB-0" 2>/dev/null || true
  rm -rf "$STATE" "$RUN"
  log "lab $LAB is down"
}

case "${1:-}" in
up) up "${2:-3}" ;;
down) down ;;
env) [ -f "$RUN/env" ] && cat "$RUN/env" || die "lab $LAB is not up" ;;
kill-host) kill_host "${2:?which host}" ;;
freeze-host) freeze_host "${2:?which host}" "${3:?how many seconds}" ;;
*) echo "usage: docker/lab.sh up [N] | env | kill-host K | freeze-host K S | down" >&2; exit 2 ;;
esac
