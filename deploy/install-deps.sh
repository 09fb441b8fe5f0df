#!/usr/bin/env bash
# Install the Debian 12 packages onenet needs to build, run and test.
#
# Usage: deploy/install-deps.sh
#
# Only packages that are not installed yet are installed; `apt-get update`
# runs only when something is missing, so a second run is fast and offline.
# Run as root, or as a user that may use sudo.
#
# Note: installing postgresql-15 on Debian creates (and may start) the
# system cluster "15/main" on port 5432. onenet does not use it: demos and
# tests run private clusters through deploy/pg-embedded.sh.
#
# Likewise, prometheus is installed for its promtool (the tests check the
# hub's /metrics with it); Debian also enables the Prometheus server on
# port 9090, which onenet does not use.
# patroni and etcd-server are for the high-availability cluster that
# deploy/ha-local.sh runs on one machine (tests/integration/test_ha.py).
# Under systemd Debian also starts the package's own etcd on
# 127.0.0.1:2379; ha-local.sh does not use it (it runs its own etcd and
# Patroni nodes on free ports).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  libjansson-dev libinih-dev libsqlite3-dev uuid-dev libyaml-dev libpq-dev
  libssl-dev libmicrohttpd-dev
  postgresql-15 postgresql-client-15
  python3 python3-pytest python3-pytest-timeout python3-psycopg2 python3-zmq
  python3-protobuf
  valgrind sudo procps util-linux
  clang libclang-rt-14-dev
  systemd python3-matplotlib groff-base
  chromium fonts-noto-cjk
  prometheus
  patroni etcd-server etcd-client python3-etcd python3-yaml
)

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v dpkg-query >/dev/null 2>&1 ||
  die "dpkg-query not found: this script supports Debian 12 (bookworm) only"

if [[ -r /etc/debian_version ]]; then
  case "$(cat /etc/debian_version)" in
    12*|bookworm*) ;;
    *) log "warning: written for Debian 12, found Debian $(cat /etc/debian_version)" ;;
  esac
fi

is_installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" || return 1
  [[ "$status" == ii* ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  log "all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

log "missing: ${missing[*]}"

SUDO=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 ||
    die "not root and sudo is not installed; run as root: apt-get install ${missing[*]}"
  SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
log "apt-get install ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do
  is_installed "$pkg" || still+=("$pkg")
done
((${#still[@]} == 0)) || die "still not installed: ${still[*]}"
log "installed ${#missing[@]} package(s)"
