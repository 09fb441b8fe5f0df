#!/usr/bin/env bash
# ha-local.sh: a Patroni + etcd PostgreSQL 15 cluster on ONE machine, for
# trying out onenet's high availability and for its tests.
#
# Usage:
#   deploy/ha-local.sh start    [DIR] [--nodes N]  create if needed, start, wait, print conninfo
#   deploy/ha-local.sh stop     DIR                stop every node, then etcd
#   deploy/ha-local.sh status   DIR                the members (patronictl list); exit 0
#                                                  with a primary, 3 without
#   deploy/ha-local.sh failover DIR [NODE]         planned switchover to NODE (default: the
#                                                  synchronous standby); waits for it
#   deploy/ha-local.sh primary  DIR                print the primary's node name
#   deploy/ha-local.sh conninfo DIR                print the hubs' multi-host libpq URI
#   deploy/ha-local.sh init     DIR [--nodes N]    write the configuration only, start nothing
#   deploy/ha-local.sh validate DIR                patroni --validate-config on every node's
#                                                  YAML (the nodes stopped: the validator wants
#                                                  their ports free and etcd up; etcd is started
#                                                  for it when it is not running)
#   deploy/ha-local.sh destroy  DIR                stop and remove everything
#
# start without DIR makes /tmp/onenet-ha.XXXXXX (named on stderr). stdout
# carries only the conninfo line (start, conninfo) or the node name
# (primary); every message goes to stderr.
#
# The cluster: one etcd member on 127.0.0.1 and N (2 or 3, default 3)
# PostgreSQL nodes n1..nN under Patroni, node i on its own loopback address
# 127.0.0.(10+i) (Patroni refuses 127.0.0.1 as a connect address), every
# port a free one. Each node's configuration is deploy/patroni/patroni.yml.in
# rendered: synchronous_mode with synchronous_mode_strict, pg_rewind, a
# replication and a rewind user. The conninfo names every node with
# target_session_attrs=read-write, so a client always lands on the primary:
#   postgresql://onenet:PASSWORD@127.0.0.11:P1,127.0.0.12:P2,.../onenet?target_session_attrs=read-write
# The role onenet is the cluster's superuser and owns the database onenet.
#
# Layout of DIR:
#   DIR/env          addresses, ports and node count (shell variables)
#   DIR/secrets      the three roles' passwords (0600)
#   DIR/conninfo     the URI above (0600)
#   DIR/etcd/        etcd's data, etcd.log, etcd.pid
#   DIR/nI/          patroni.yml, patroni.log, patroni.pid, data/ (PGDATA),
#                    postgresql.log, the Unix socket
#
# PostgreSQL refuses to run as root: as root everything (etcd, Patroni,
# PostgreSQL) runs as the Debian "postgres" system user (override with
# ONENET_PG_OS_USER), and DIR must be writable by it (under /tmp, say); as
# any other user it all runs as that user. Needs the Debian packages
# patroni, etcd-server and postgresql-15 (deploy/install-deps.sh).
set -euo pipefail

PROG=ha-local
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
TEMPLATE="$ROOT/deploy/patroni/patroni.yml.in"
PGBIN=${ONENET_PGBIN:-/usr/lib/postgresql/15/bin}
SCOPE=onenet-local
SUPERUSER=onenet
REPLICATION_USER=replicator
REWIND_USER=rewinder
DB_NAME=onenet

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '4,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- helpers

if ((EUID == 0)); then
  OS_USER=${ONENET_PG_OS_USER:-postgres}
else
  OS_USER=$(id -un)
fi

# Run a command as the cluster's OS user, from / (the caller's working
# directory may not be readable by that user).
as_user() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$OS_USER" -- "$@")
  else
    (cd / && "$@")
  fi
}

# Start a daemon as the OS user in its own session, output to LOG; prints
# its PID.
spawn() { # LOG COMMAND...
  local logfile=$1
  shift
  as_user bash -c 'log=$1; shift; setsid "$@" >>"$log" 2>&1 </dev/null & echo $!' \
    _ "$logfile" "$@"
}

free_port() { # HOST
  python3 -c 'import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])' "$1"
}

alive() { # PID: exists and is not a zombie
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [[ -n "$stat" && "$stat" != Z* ]]
}

pid_in() { # FILE
  local pid
  [[ -r "$1" ]] || return 1
  pid=$(head -n 1 "$1" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  printf '%s' "$pid"
}

node_host() { printf '127.0.0.%d' $((10 + $1)); }

load_env() {
  [[ -r "$DIR/env" ]] || die "no cluster in $DIR (no $DIR/env)"
  # shellcheck disable=SC1091
  source "$DIR/env"
}

patronictl_() { # ARGS...: patronictl against node 1's configuration
  as_user timeout 120 patronictl -c "$DIR/n1/patroni.yml" "$@"
}

# The members as "NAME ROLE STATE LAG" lines, from any node's REST API
# that answers (Patroni's /cluster).
members() {
  local i
  for ((i = 1; i <= NODES; i++)); do
    local port_var="API_PORT_$i"
    if python3 - "$(node_host "$i")" "${!port_var}" <<'EOF' 2>/dev/null; then return 0; fi
import json, sys, urllib.request
with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/cluster", timeout=3) as r:
    for m in json.load(r).get("members", []):
        print(m["name"], m["role"], m["state"], m.get("lag", 0))
EOF
  done
  return 1
}

primary_name() {
  members | awk '$2 == "leader" && $3 == "running" { print $1; exit }'
}

# ---------------------------------------------------------------- create

create() { # NODES
  local nodes=$1 i
  ((nodes >= 2 && nodes <= 3)) || die "--nodes must be 2 or 3"
  [[ -r "$TEMPLATE" ]] || die "$TEMPLATE not found"
  command -v patroni >/dev/null 2>&1 ||
    die "patroni not found; install it (deploy/install-deps.sh)"
  command -v etcd >/dev/null 2>&1 ||
    die "etcd not found; install etcd-server (deploy/install-deps.sh)"
  [[ -x "$PGBIN/initdb" ]] || die "$PGBIN/initdb not found; install postgresql-15"
  if ((EUID == 0)); then
    id -u "$OS_USER" >/dev/null 2>&1 ||
      die "OS user '$OS_USER' does not exist; install postgresql-15 (deploy/install-deps.sh)"
    [[ "$OS_USER" != root ]] || die "PostgreSQL cannot run as root"
    chown "$OS_USER:" "$DIR"
  fi
  chmod 700 "$DIR"
  as_user test -w "$DIR" -a -x "$DIR" ||
    die "user $OS_USER cannot write $DIR: choose a directory it can reach (e.g. under /tmp)"

  local etcd_client etcd_peer
  etcd_client=$(free_port 127.0.0.1)
  etcd_peer=$(free_port 127.0.0.1)
  {
    printf 'NODES=%d\nETCD_CLIENT_PORT=%d\nETCD_PEER_PORT=%d\n' "$nodes" "$etcd_client" "$etcd_peer"
    for ((i = 1; i <= nodes; i++)); do
      printf 'PG_PORT_%d=%d\nAPI_PORT_%d=%d\n' "$i" "$(free_port "$(node_host "$i")")" \
        "$i" "$(free_port "$(node_host "$i")")"
    done
  } | as_user tee "$DIR/env" >/dev/null

  local su_pw rep_pw rew_pw
  su_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  rep_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  rew_pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  printf 'SUPERUSER_PASSWORD=%s\nREPLICATION_PASSWORD=%s\nREWIND_PASSWORD=%s\n' \
    "$su_pw" "$rep_pw" "$rew_pw" | as_user bash -c "umask 077 && cat >'$DIR/secrets'"

  load_env
  as_user mkdir -m 700 -p "$DIR/etcd"
  for ((i = 1; i <= nodes; i++)); do
    as_user mkdir -m 700 -p "$DIR/n$i"
    render "$i" | as_user bash -c "umask 077 && cat >'$DIR/n$i/patroni.yml'"
  done

  local uri hosts=""
  for ((i = 1; i <= nodes; i++)); do
    local port_var="PG_PORT_$i"
    hosts+="${hosts:+,}$(node_host "$i"):${!port_var}"
  done
  uri="postgresql://$SUPERUSER:$su_pw@$hosts/$DB_NAME?target_session_attrs=read-write"
  printf '%s\n' "$uri" | as_user bash -c "umask 077 && cat >'$DIR/conninfo'"
}

render() { # NODE
  local i=$1 pg_port_var="PG_PORT_$1" api_port_var="API_PORT_$1"
  # shellcheck disable=SC1091
  source "$DIR/secrets"
  local node="$DIR/n$i"
  sed -e "s|@SCOPE@|$SCOPE|g" \
      -e "s|@NAME@|n$i|g" \
      -e "s|@HOST@|$(node_host "$i")|g" \
      -e "s|@API_PORT@|${!api_port_var}|g" \
      -e "s|@PG_PORT@|${!pg_port_var}|g" \
      -e "s|@ETCD_HOSTS@|127.0.0.1:$ETCD_CLIENT_PORT|g" \
      -e "s|@DATA_DIR@|$node/data|g" \
      -e "s|@PGPASS@|$node/pgpass|g" \
      -e "s|@SOCKET_DIR@|$node|g" \
      -e "s|@LOG_DIR@|$node|g" \
      -e "s|@SUPERUSER@|$SUPERUSER|g" \
      -e "s|@REPLICATION_USER@|$REPLICATION_USER|g" \
      -e "s|@REWIND_USER@|$REWIND_USER|g" \
      -e "s|@SUPERUSER_PASSWORD@|$SUPERUSER_PASSWORD|g" \
      -e "s|@REPLICATION_PASSWORD@|$REPLICATION_PASSWORD|g" \
      -e "s|@REWIND_PASSWORD@|$REWIND_PASSWORD|g" \
      "$TEMPLATE"
}

# ---------------------------------------------------------------- commands

start_etcd() {
  local pid
  if pid=$(pid_in "$DIR/etcd/etcd.pid") && alive "$pid"; then
    return 0
  fi
  log "starting etcd on 127.0.0.1:$ETCD_CLIENT_PORT"
  pid=$(spawn "$DIR/etcd/etcd.log" etcd --name onenet-etcd \
    --data-dir "$DIR/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "onenet-etcd=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-token "onenet-ha-local" --initial-cluster-state new \
    --enable-v2=true)
  printf '%s\n' "$pid" | as_user tee "$DIR/etcd/etcd.pid" >/dev/null
  local i
  for ((i = 0; i < 600; i++)); do
    if ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --dial-timeout 2s endpoint health >/dev/null 2>&1; then
      return 0
    fi
    alive "$pid" || { tail -n 20 "$DIR/etcd/etcd.log" >&2; die "etcd exited"; }
    sleep 0.1
  done
  tail -n 20 "$DIR/etcd/etcd.log" >&2
  die "etcd did not become healthy within 60 s"
}

start_node() { # I
  local i=$1 pid
  if pid=$(pid_in "$DIR/n$i/patroni.pid") && alive "$pid"; then
    return 0
  fi
  # a postmaster left behind by a Patroni that died: Patroni adopts a
  # running PostgreSQL, so it may stay
  log "starting Patroni node n$i ($(node_host "$i"))"
  pid=$(spawn "$DIR/n$i/patroni.log" patroni "$DIR/n$i/patroni.yml")
  printf '%s\n' "$pid" | as_user tee "$DIR/n$i/patroni.pid" >/dev/null
}

# Waits until there is a running primary and every other node streams
# from it, one of them as its synchronous standby.
wait_ready() { # TIMEOUT_S
  local deadline=$((SECONDS + $1)) m leader sync running
  while ((SECONDS < deadline)); do
    m=$(members || true)
    leader=$(awk '$2 == "leader" && $3 == "running"' <<<"$m" | wc -l)
    sync=$(awk '$2 == "sync_standby" && ($3 == "running" || $3 == "streaming")' <<<"$m" | wc -l)
    running=$(awk '$3 == "running" || $3 == "streaming"' <<<"$m" | wc -l)
    if ((leader == 1 && sync >= 1 && running == NODES)); then
      return 0
    fi
    sleep 0.5
  done
  log "members:"
  members >&2 || log "no Patroni REST API answers"
  return 1
}

psql_su() { # psql args...
  # shellcheck disable=SC1091
  source "$DIR/secrets"
  PGPASSWORD=$SUPERUSER_PASSWORD PGCONNECT_TIMEOUT=10 "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
    "$(sed 's|/onenet?|/postgres?|' "$DIR/conninfo")" "$@"
}

cmd_start() { # NODES (empty: keep)
  local nodes=$1 fresh=0 i
  mkdir -p -- "$DIR"
  if [[ ! -e "$DIR/env" ]]; then
    create "${nodes:-3}"
    fresh=1
  fi
  load_env
  if [[ -n "$nodes" && "$nodes" != "$NODES" ]]; then
    log "warning: $DIR holds $NODES nodes; --nodes $nodes ignored"
  fi
  start_etcd
  if ((fresh)); then
    validate || die "a node's configuration does not validate"
  fi
  start_node 1
  # the first node bootstraps alone, the others clone it
  if ((fresh)); then
    local deadline=$((SECONDS + 180))
    until [[ -n "$(primary_name 2>/dev/null || true)" ]]; do
      ((SECONDS < deadline)) || { tail -n 30 "$DIR/n1/patroni.log" >&2; die "n1 did not bootstrap"; }
      sleep 0.5
    done
  fi
  for ((i = 2; i <= NODES; i++)); do
    start_node "$i"
  done
  if ! wait_ready 300; then
    for ((i = 1; i <= NODES; i++)); do
      log "last lines of n$i/patroni.log:"
      tail -n 15 "$DIR/n$i/patroni.log" >&2 || true
    done
    die "the cluster did not come up within 300 s"
  fi
  if [[ "$(psql_su -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]]; then
    log "creating database $DB_NAME owned by $SUPERUSER"
    psql_su -c "CREATE DATABASE $DB_NAME OWNER $SUPERUSER" >&2
  fi
  log "cluster in $DIR: primary $(primary_name)"
  cat -- "$DIR/conninfo"
}

stop_pid() { # PID WHAT TIMEOUT_S
  local pid=$1 what=$2 i
  alive "$pid" || return 0
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < $3 * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "$what ($pid) still running after $3 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
  load_env
  local i pid
  # continue every stopped process first (a test may have frozen one)
  for ((i = 1; i <= NODES; i++)); do
    if pid=$(pid_in "$DIR/n$i/data/postmaster.pid") && alive "$pid"; then
      pkill -CONT -g "$(ps -o pgid= -p "$pid" | tr -d ' ')" 2>/dev/null || kill -CONT "$pid" || true
      pkill -CONT -P "$pid" 2>/dev/null || true
    fi
  done
  # replicas first, so that the primary's shutdown does not start a failover
  local order=() primary
  primary=$(primary_name 2>/dev/null || true)
  for ((i = 1; i <= NODES; i++)); do
    [[ "n$i" == "$primary" ]] || order+=("$i")
  done
  [[ -z "$primary" ]] || order+=("${primary#n}")
  for i in "${order[@]}"; do
    if pid=$(pid_in "$DIR/n$i/patroni.pid"); then
      stop_pid "$pid" "Patroni n$i" 120
    fi
    # PostgreSQL outlives a Patroni that was killed
    if pid=$(pid_in "$DIR/n$i/data/postmaster.pid") && alive "$pid"; then
      log "stopping the PostgreSQL of n$i left without its Patroni"
      as_user "$PGBIN/pg_ctl" -D "$DIR/n$i/data" -m immediate -w -t 60 stop >&2 ||
        kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if pid=$(pid_in "$DIR/etcd/etcd.pid"); then
    stop_pid "$pid" etcd 30
  fi
  log "stopped"
}

cmd_status() {
  load_env
  local pid
  if ! { pid=$(pid_in "$DIR/etcd/etcd.pid") && alive "$pid"; }; then
    log "not running (etcd is down)"
    exit 3
  fi
  # patronictl retries for minutes when etcd does not answer
  if ! as_user timeout 30 patronictl -c "$DIR/n1/patroni.yml" list >&2; then
    members >&2 || true
  fi
  [[ -n "$(primary_name 2>/dev/null || true)" ]] || { log "no running primary"; exit 3; }
}

cmd_failover() { # [NODE]
  load_env
  local target=$1 primary
  primary=$(primary_name) || true
  [[ -n "$primary" ]] || die "no running primary to switch over from"
  if [[ -z "$target" ]]; then
    target=$(members | awk '$2 == "sync_standby" { print $1; exit }')
    [[ -n "$target" ]] || die "no synchronous standby to switch over to"
  fi
  [[ "$target" != "$primary" ]] || die "$target is the primary already"
  log "switchover from $primary to $target"
  patronictl_ switchover --leader "$primary" --candidate "$target" --force >&2
  local deadline=$((SECONDS + 120))
  until [[ "$(primary_name 2>/dev/null || true)" == "$target" ]]; do
    ((SECONDS < deadline)) || die "$target did not become the primary within 120 s"
    sleep 0.5
  done
  wait_ready 180 || die "the cluster did not settle after the switchover"
  log "primary is now $target"
}

validate() {
  load_env
  local i bad=0 pid
  for ((i = 1; i <= NODES; i++)); do
    if pid=$(pid_in "$DIR/n$i/patroni.pid") && alive "$pid"; then
      log "n$i is running: stop the cluster first (the validator wants its ports free)"
      return 1
    fi
  done
  for ((i = 1; i <= NODES; i++)); do
    if ! as_user patroni --validate-config "$DIR/n$i/patroni.yml" >&2; then
      log "n$i/patroni.yml does not validate"
      bad=1
    fi
  done
  return "$bad"
}

cmd_destroy() {
  if [[ ! -e "$DIR" ]]; then
    log "$DIR does not exist"
    return 0
  fi
  if [[ -r "$DIR/env" ]]; then
    cmd_stop || true
  fi
  log "removing $DIR"
  rm -rf -- "$DIR"
}

# ---------------------------------------------------------------- main

(($# >= 1)) || usage
cmd=$1
shift
nodes=""
args=()
while (($# > 0)); do
  case "$1" in
    --nodes)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || usage
      nodes=$2
      shift ;;
    -h|--help) usage ;;
    *) args+=("$1") ;;
  esac
  shift
done

if [[ "$cmd" == start && ${#args[@]} -eq 0 ]]; then
  d=$(mktemp -d /tmp/onenet-ha.XXXXXX)
  log "cluster directory: $d"
  args=("$d")
fi
((${#args[@]} >= 1)) || usage
[[ -n "${args[0]}" ]] || usage
DIR=$(realpath -m -- "${args[0]}")

case "$cmd" in
  start)    ((${#args[@]} == 1)) || usage; cmd_start "$nodes" ;;
  stop)     ((${#args[@]} == 1)) || usage; cmd_stop ;;
  status)   ((${#args[@]} == 1)) || usage; cmd_status ;;
  failover) ((${#args[@]} <= 2)) || usage; cmd_failover "${args[1]:-}" ;;
  primary)
    ((${#args[@]} == 1)) || usage
    load_env
    p=$(primary_name || true)
    [[ -n "$p" ]] || { log "no running primary"; exit 3; }
    printf '%s\n' "$p" ;;
  conninfo) ((${#args[@]} == 1)) || usage; load_env; cat -- "$DIR/conninfo" ;;
  init)
    ((${#args[@]} == 1)) || usage
    mkdir -p -- "$DIR"
    [[ ! -e "$DIR/env" ]] || die "$DIR holds a cluster already"
    create "${nodes:-3}"
    log "configuration written to $DIR" ;;
  validate)
    ((${#args[@]} == 1)) || usage
    load_env
    started=0
    if ! { pid=$(pid_in "$DIR/etcd/etcd.pid") && alive "$pid"; }; then
      start_etcd
      started=1
    fi
    rc=0
    validate || rc=$?
    if ((started)); then stop_pid "$(pid_in "$DIR/etcd/etcd.pid")" etcd 30; fi
    ((rc == 0)) && log "every node's configuration validates"
    exit "$rc" ;;
  destroy)  ((${#args[@]} == 1)) || usage; cmd_destroy ;;
  *) usage ;;
esac
