#!/usr/bin/env bash
# Brings up what gomelctl drives, idempotently: a Docker Engine, a registry on
# 127.0.0.1:5000 and a local busybox base image. What already works is left alone.
# Usage: docker/setup.sh        (as root on Debian when anything must be installed)
set -euo pipefail

REGISTRY_ADDR="${GOMELCTL_REGISTRY:-127.0.0.1:5000}"
STATE_DIR="${GOMELCTL_STATE_DIR:-/var/lib/gomelctl}"
BASE_IMAGE="${GOMELCTL_BASE_IMAGE:-gomelctl/base:busybox}"
GO_IMAGE="${GOMELCTL_GO_IMAGE:-gomelctl/base:golang}"
log() { echo "setup: $*" >&2; }

need_packages=()
command -v dockerd >/dev/null 2>&1 || need_packages+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need_packages+=(docker-registry)
[ -x /bin/busybox ] || need_packages+=(busybox-static)
command -v ip >/dev/null 2>&1 || need_packages+=(iproute2) # docker/lab.sh, and tc for the base image
command -v xtables-legacy-multi >/dev/null 2>&1 || need_packages+=(iptables) # the base image's loss shaping
# Go compiles `image rebuild --code` payloads inside a local builder image (step 4), with
# Debian's packages of what gomel imports besides consensus-go and bn256. GO_VERSION marks
# what that image holds; an older one (or none) is rebuilt from these host packages.
GO_VERSION=2
GO_LIBS=(golang-github-rs-zerolog-dev golang-golang-x-crypto-dev)
go_image_current() { [ "$(docker image inspect --format '{{ index .Config.Labels "org.gomelctl.golang" }}' "$GO_IMAGE" 2>/dev/null)" = "$GO_VERSION" ]; }
# The base image's version: its recipe's number and a hash of the source of the Go programs
# compiled into it (delayer/'s and probe/'s go.mod and *.go), so that a changed program is
# rebuilt. Their tests (*_test.go, npm run test:go) are not in the binaries: not hashed.
REPO_DIR=$(cd "$(dirname "$0")/.." && pwd)
BASE_VERSION="5-$(cd "$REPO_DIR" && for f in delayer/go.mod delayer/*.go probe/go.mod probe/*.go; do case "$f" in *_test.go) ;; *) cat "$f" ;; esac; done | sha256sum | cut -c1-12)"
base_image_current() { [ "$(docker image inspect --format '{{ index .Config.Labels "org.gomelctl.base" }}' "$BASE_IMAGE" 2>/dev/null)" = "$BASE_VERSION" ]; }
if ! base_image_current; then command -v go >/dev/null 2>&1 || need_packages+=(golang-go); fi
if ! go_image_current; then
  command -v go >/dev/null 2>&1 || need_packages+=(golang-go)
  for p in "${GO_LIBS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need_packages+=("$p"); done
fi
if [ ${#need_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "missing ${need_packages[*]}; install them (Debian: apt-get install ${need_packages[*]}) or run this as root"
    exit 1
  fi
  log "installing ${need_packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" curl >/dev/null
fi
mkdir -p "$STATE_DIR"

# 1. The engine.
if ! docker info >/dev/null 2>&1; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    log "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine, or unset DOCKER_HOST to use a local one"
    exit 1
  fi
  log "starting dockerd (log: $STATE_DIR/dockerd.log)"
  nohup dockerd >"$STATE_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; last lines of its log:"; tail -n 20 "$STATE_DIR/dockerd.log" >&2; exit 1; }
fi
log "engine: $(docker version --format '{{.Server.Version}}')"

# 2. The registry, without auth (Debian's packaged config demands htpasswd).
if ! curl -fsS "http://${REGISTRY_ADDR}/v2/" >/dev/null 2>&1; then
  cat >"$STATE_DIR/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE_DIR/registry
  delete:
    enabled: true
http:
  addr: ${REGISTRY_ADDR}
YML
  log "starting docker-registry on $REGISTRY_ADDR (log: $STATE_DIR/registry.log)"
  nohup docker-registry serve "$STATE_DIR/registry.yml" >"$STATE_DIR/registry.log" 2>&1 &
  for _ in $(seq 1 30); do curl -fsS "http://${REGISTRY_ADDR}/v2/" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "http://${REGISTRY_ADDR}/v2/" >/dev/null || { log "registry did not come up:"; tail -n 20 "$STATE_DIR/registry.log" >&2; exit 1; }
fi
log "registry: http://$REGISTRY_ADDR/v2/ answers"

# A busybox root file system (Debian's busybox-static) in a new temporary folder; prints its path.
busybox_rootfs() {
  local rootfs
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs"/{bin,etc,tmp,extract,run/secrets}
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  echo "$rootfs"
}
rootfs=""
trap '[ -n "$rootfs" ] && rm -rf "$rootfs"' EXIT

# Copies programs and the shared libraries they load into a rootfs.
copy_with_libs() {
  local rootfs=$1 prog lib
  shift
  for prog in "$@"; do
    cp -L --parents "$prog" "$rootfs"
    for lib in $(ldd "$prog" | grep -o '/[^ ]*'); do [ -e "$rootfs$lib" ] || cp -L --parents "$lib" "$rootfs"; done
  done
}

# 3. A base image, since none can be pulled here: a rootfs of Debian's busybox-static,
#    plus what network conditions need (busybox's tc cannot build HTB/netem qdiscs):
#    iproute2's tc and iptables (legacy, for the statistic match and NFQUEUE), with their
#    libraries, gomel-delayer (delay and jitter where the kernel has no netem) and gomel-probe
#    (the connectivity probe's listener and questions, templates/probe/run.sh), static
#    binaries compiled here from delayer/ and probe/ with Go's standard library only.
#    BASE_VERSION marks what the image holds; an older base is rebuilt.
if ! base_image_current; then
  rootfs=$(busybox_rootfs)
  mkdir -p "$rootfs/usr/sbin"
  # Module mode (each folder's go.mod), as npm run test:go tests them; standard library only, so never the network.
  (cd "$REPO_DIR/delayer" && CGO_ENABLED=0 GO111MODULE=on GOFLAGS= GOPROXY=off go build -trimpath -o "$rootfs/usr/sbin/gomel-delayer" .)
  (cd "$REPO_DIR/probe" && CGO_ENABLED=0 GO111MODULE=on GOFLAGS= GOPROXY=off go build -trimpath -o "$rootfs/usr/sbin/gomel-probe" .)
  rm -f "$rootfs/bin/tc" "$rootfs/bin/iptables"
  copy_with_libs "$rootfs" "$(command -v tc)" "$(command -v xtables-legacy-multi)"
  # iptables loads its matches (the statistic one among them) from Debian's xtables folder.
  for xtables in /usr/lib/*/xtables; do mkdir -p "$rootfs$xtables" && cp -a "$xtables/." "$rootfs$xtables/"; done
  ln -sf "$(command -v tc)" "$rootfs/bin/tc"
  ln -sf "$(command -v xtables-legacy-multi)" "$rootfs/bin/iptables"
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin:/sbin:/usr/sbin' \
    --change "LABEL org.gomelctl.base=$BASE_VERSION" - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "created base image $BASE_IMAGE (busybox, tc, iptables, gomel-delayer, gomel-probe)"
fi
log "base image: $BASE_IMAGE"

# 4. A Go builder for `image rebuild --code` (golang:1.13 cannot be pulled here):
#    Debian's Go toolchain (its `go` needs libc) on the busybox rootfs, and in
#    /usr/share/gocode the Go sources of GO_LIBS and of the Debian packages they
#    depend on (templates/Dockerfile.code puts it on GOPATH).
if ! go_image_current; then
  goroot=$(go env GOROOT)
  rootfs=$(busybox_rootfs)
  mkdir -p "$rootfs$(dirname "$goroot")"
  cp -a "$goroot" "$rootfs$goroot"
  # Debian keeps GOROOT's src/ under /usr/share and links it.
  share="/usr/share/$(basename "$goroot")"
  [ -d "$share" ] && mkdir -p "$rootfs/usr/share" && cp -a "$share" "$rootfs$share"
  for lib in $(ldd "$goroot/bin/go" | grep -o '/[^ ]*'); do cp -L --parents "$lib" "$rootfs"; done
  ln -s "$goroot/bin/go" "$rootfs/bin/go"
  # Only those packages' files, not all of the host's /usr/share/gocode: the image holds what it says.
  go_debs=$({ printf '%s\n' "${GO_LIBS[@]}"; apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${GO_LIBS[@]}"; } | grep -E '^golang-[a-z0-9.+-]+-dev$' | sort -u)
  for deb in $go_debs; do dpkg -L "$deb" 2>/dev/null || true; done | grep '^/usr/share/gocode/' | sort -u | sed 's|^/||' \
    | tar -C / -c --no-recursion -T - | tar -C "$rootfs" -x
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' --change "ENV GOROOT=$goroot" \
    --change "LABEL org.gomelctl.golang=$GO_VERSION" - "$GO_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "created Go builder image $GO_IMAGE ($(go version | cut -d' ' -f3); ${GO_LIBS[*]})"
fi
log "Go builder image: $GO_IMAGE"
