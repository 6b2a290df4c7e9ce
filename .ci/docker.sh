#!/usr/bin/env bash
# A private Docker engine for the Docker sandbox tests, with an image built without any registry.
#
#   .ci/docker.sh start   install docker.io + debootstrap (apt), start dockerd in the background,
#                         import a debootstrap rootfs as the base image, build the docker-cpu
#                         sandbox image on it, and write the variables the tests need to $ENV_FILE
#   .ci/docker.sh stop    stop that dockerd (by its pid) and its containers
#   .ci/docker.sh env     print the env file's path (source it to use the engine)
#
# The machine has no systemd and may not reach a registry, so dockerd runs by hand with no
# iptables and no bridge (sandbox containers use network_mode=none anyway), keeps its data in a
# temp dir, and the base image comes from `debootstrap --variant=minbase` using the Debian mirror
# of this machine's own apt sources. Everything is bounded in time; `start` exits non-zero when
# Docker cannot be made to work, and the Docker tests then skip with the reason.
set -euo pipefail

STATE=${AIRA_CI_DOCKER_DIR:-/tmp/aira-ci-docker}
ENV_FILE=$STATE/env
SOCK=$STATE/docker.sock
PIDFILE=$STATE/dockerd.pid
BASE_IMAGE=aira-ci-base:minbase
REPO=$(cd "$(dirname "$0")/.." && pwd)

log() { echo "docker.sh: $*" >&2; }

# shellcheck source=.ci/lib.sh
. "$(dirname "$0")/lib.sh"

# The Debian mirror and suite of this machine, read from its apt sources (deb822 or one-line).
debian_mirror() {
  local codename=$1
  local from_sources
  from_sources=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v suite="$codename" '
    BEGIN { RS = ""; FS = "\n" }
    {
      uris = ""; ok = 0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, u, /[ \t]+/); uris = u[1] }
        if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
      }
      if (ok && uris != "") { print uris; exit }
    }')
  if [ -n "$from_sources" ]; then echo "$from_sources"; return; fi
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v suite="$codename" '
    $1 == "deb" {
      i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) { print $i; exit }
    }'
}

dockerd_alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start_daemon() {
  if dockerd_alive && docker -H "unix://$SOCK" info >/dev/null 2>&1; then
    log "dockerd already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  mkdir -p "$STATE/data" "$STATE/exec"
  log "starting dockerd (data root $STATE/data)"
  # setsid: the daemon must not share the CI shell's process group.
  setsid dockerd --iptables=false --ip6tables=false --bridge=none \
    --data-root "$STATE/data" --exec-root "$STATE/exec" --pidfile "$PIDFILE" \
    --host "unix://$SOCK" >"$STATE/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    if docker -H "unix://$SOCK" info >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "dockerd did not come up in 60 s; its log ends with:"
  tail -n 20 "$STATE/dockerd.log" >&2 || true
  return 1
}

import_base_image() {
  export DOCKER_HOST="unix://$SOCK"
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE already imported"
    return 0
  fi
  local codename mirror rootfs
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  mirror=$(debian_mirror "$codename")
  if [ -z "$codename" ] || [ -z "$mirror" ]; then
    log "cannot find a Debian mirror for '$codename' in /etc/apt/sources*"
    return 1
  fi
  rootfs="$STATE/rootfs"
  rm -rf "$rootfs"
  log "debootstrap --variant=minbase $codename from $mirror"
  timeout 600 debootstrap --variant=minbase --include=python3 "$codename" "$rootfs" "$mirror" \
    >"$STATE/debootstrap.log" 2>&1 || { tail -n 20 "$STATE/debootstrap.log" >&2; return 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | timeout 300 docker import - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "imported $BASE_IMAGE"
}

write_env() {
  cat >"$ENV_FILE" <<EOF
export DOCKER_HOST=unix://$SOCK
export AIRA_DSL_DOCKER_BASE_IMAGE=$BASE_IMAGE
export AIRA_DSL_DOCKER_PIP_PACKAGES=
export AIRA_DSL_DOCKER_BUILD_NETWORK=none
EOF
}

build_sandbox_image() {
  # Build the docker-cpu profile's image exactly as the sandbox would on first use (same tag),
  # by running a script through it: this also checks the whole path end to end.
  local hello="$STATE/hello.py"
  echo 'import sys; print("hello from", sys.version.split()[0])' >"$hello"
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  (cd "$REPO" && timeout 600 python3 -m aira_dsl exec "$hello" --sandbox docker-cpu --timeout 60s)
}

case "${1:-}" in
  start)
    mkdir -p "$STATE"
    rm -f "$ENV_FILE"
    apt_install docker.io debootstrap
    start_daemon
    import_base_image
    write_env
    build_sandbox_image
    log "ready: source $ENV_FILE"
    ;;
  stop)
    if dockerd_alive; then
      pid=$(cat "$PIDFILE")
      ids=$(docker -H "unix://$SOCK" ps -aq 2>/dev/null || true)
      if [ -n "$ids" ]; then
        # shellcheck disable=SC2086
        docker -H "unix://$SOCK" rm -f $ids >/dev/null 2>&1 || true
      fi
      log "stopping dockerd (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$ENV_FILE"
    ;;
  env)
    echo "$ENV_FILE"
    ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
