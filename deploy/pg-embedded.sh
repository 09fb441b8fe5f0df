#!/usr/bin/env bash
# pg-embedded.sh: a private PostgreSQL 15 cluster for onenet demos and tests.
#
# Usage:
#   deploy/pg-embedded.sh start    DIR [PORT]  create if needed, start, print conninfo
#   deploy/pg-embedded.sh stop     DIR         fast shutdown, wait
#   deploy/pg-embedded.sh restart  DIR         stop + start on the same port
#   deploy/pg-embedded.sh kill     DIR         SIGKILL the postmaster and its children
#   deploy/pg-embedded.sh status   DIR         exit 0 when running, 3 when not
#   deploy/pg-embedded.sh conninfo DIR         print the libpq URI
#   deploy/pg-embedded.sh destroy  DIR         stop and remove everything
#
# stdout carries only the conninfo line (start, restart, conninfo); every
# message goes to stderr.
#
# Layout of DIR:
#   DIR/conninfo         postgresql://onenet:PASSWORD@127.0.0.1:PORT/onenet (0600)
#   DIR/cluster          the cluster root: a directory, or a symlink to
#                        /tmp/onenet-pg.XXXXXX when the cluster's OS user
#                        cannot reach DIR (e.g. DIR under /root)
#   DIR/postgresql.log   symlink to the server log (cluster/postgresql.log)
#   cluster/data         PGDATA; settings in cluster/data/onenet.conf
#   cluster/.s.PGSQL.*   the Unix socket (peer auth, mapped to role onenet)
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the
# Debian "postgres" system user (override with ONENET_PG_OS_USER); as any
# other user it belongs to that user. The role "onenet" is the cluster's
# superuser and owns the database "onenet". Durability settings (fsync,
# synchronous_commit, full_page_writes) are left at their safe defaults.
set -euo pipefail

PROG=pg-embedded
PGBIN=${ONENET_PGBIN:-/usr/lib/postgresql/15/bin}
DB_ROLE=onenet
DB_NAME=onenet

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- helpers

# Run a command as the cluster's OS user, from / (the caller's working
# directory may not be readable by that user).
as_pg() {
  if ((EUID == 0)); then
    if command -v runuser >/dev/null 2>&1; then
      (cd / && runuser -u "$PG_OS_USER" -- "$@")
    elif command -v sudo >/dev/null 2>&1; then
      (cd / && sudo -n -u "$PG_OS_USER" -- "$@")
    else
      die "neither runuser nor sudo is available to switch to $PG_OS_USER"
    fi
  else
    (cd / && "$@")
  fi
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

valid_port() {
  [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 65535))
}

# Set the path variables for DIR (an absolute path).
set_paths() {
  DIR=$1
  LINK="$DIR/cluster"
  CONNINFO="$DIR/conninfo"
  CR=""
  DATA=""
  LOGFILE=""
}

# Resolve DIR/cluster (directory or pointer symlink) and the OS user that
# owns it. Returns 1 when DIR has no cluster.
resolve_cluster() {
  [[ -e "$LINK" || -L "$LINK" ]] || return 1
  if [[ -L "$LINK" && ! -e "$LINK" ]]; then
    die "$LINK points to $(readlink "$LINK"), which no longer exists" \
        "(temporary directory cleaned?); run: $0 destroy $DIR"
  fi
  CR=$(readlink -f -- "$LINK")
  DATA="$CR/data"
  LOGFILE="$CR/postgresql.log"
  if ((EUID == 0)); then
    PG_OS_USER=$(stat -c %U -- "$CR")
    [[ "$PG_OS_USER" != root ]] ||
      die "$CR is owned by root; PostgreSQL cannot run as root"
  else
    PG_OS_USER=$(id -un)
  fi
  [[ -f "$DATA/PG_VERSION" ]] ||
    die "$DATA is not an initialised cluster (interrupted initdb?); run: $0 destroy $DIR"
  return 0
}

conf_port() {
  sed -n 's/^port = \([0-9][0-9]*\).*/\1/p' "$DATA/onenet.conf" | tail -n 1
}

conninfo_password() {
  [[ -r "$CONNINFO" ]] || die "cannot read $CONNINFO (lost, or created by another user)"
  local pw
  pw=$(sed -n 's|^postgresql://[^:]*:\([^@]*\)@.*|\1|p' "$CONNINFO")
  [[ -n "$pw" ]] || die "no password in $CONNINFO"
  printf '%s' "$pw"
}

write_conninfo() { # PASSWORD PORT
  local tmp
  tmp=$(mktemp "$DIR/.conninfo.XXXXXX")
  chmod 600 "$tmp"
  printf 'postgresql://%s:%s@127.0.0.1:%s/%s\n' "$DB_ROLE" "$1" "$2" "$DB_NAME" >"$tmp"
  mv -f "$tmp" "$CONNINFO"
}

# Write cluster/data/onenet.conf (included from postgresql.conf).
write_conf() { # PORT
  local port=$1 sockdir=$CR sock_setting
  # A Unix socket path is limited to 107 bytes.
  if ((${#sockdir} + ${#port} + 10 > 107)); then
    log "warning: $sockdir is too long for a Unix socket; TCP only"
    sock_setting="''"
  else
    sock_setting="'${sockdir//\'/\'\'}'"
  fi
  as_pg tee "$DATA/onenet.conf" >/dev/null <<EOF
# Written by deploy/pg-embedded.sh; rewritten when the port changes.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = $sock_setting
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 256MB
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
EOF
}

pid_of_postmaster() {
  [[ -r "$DATA/postmaster.pid" ]] || return 1
  local pid
  pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  printf '%s' "$pid"
}

# True when PID exists and is not a zombie.
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [[ -n "$stat" && "$stat" != Z* ]]
}

is_running() {
  [[ -n "$DATA" && -d "$DATA" ]] || return 1
  local pid
  pid=$(pid_of_postmaster) || return 1
  alive "$pid" || return 1
  as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

psql_admin() { # PASSWORD PORT psql-args...
  local pw=$1 port=$2
  shift 2
  PGPASSWORD=$pw PGCONNECT_TIMEOUT=10 "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$port" -U "$DB_ROLE" -d postgres "$@"
}

show_log_tail() {
  if [[ -n "$LOGFILE" && -r "$LOGFILE" ]]; then
    log "last lines of $LOGFILE:"
    tail -n 25 "$LOGFILE" >&2 || true
  fi
}

# ---------------------------------------------------------------- create

choose_cluster_root() {
  if ((EUID == 0)); then
    PG_OS_USER=${ONENET_PG_OS_USER:-postgres}
    id -u "$PG_OS_USER" >/dev/null 2>&1 ||
      die "OS user '$PG_OS_USER' does not exist; install postgresql-15 (deploy/install-deps.sh)"
    [[ "$PG_OS_USER" != root ]] || die "PostgreSQL cannot run as root"
    mkdir -p -- "$LINK"
    chown "$PG_OS_USER:" "$LINK"
    chmod 700 "$LINK"
    if as_pg test -w "$LINK" -a -x "$LINK"; then
      CR=$LINK
    else
      rmdir -- "$LINK"
      CR=$(mktemp -d /tmp/onenet-pg.XXXXXX)
      chown "$PG_OS_USER:" "$CR"
      chmod 700 "$CR"
      ln -s -- "$CR" "$LINK"
      log "user $PG_OS_USER cannot reach $DIR; cluster placed in $CR ($LINK points to it)"
    fi
  else
    PG_OS_USER=$(id -un)
    mkdir -m 700 -- "$LINK"
    CR=$LINK
  fi
  DATA="$CR/data"
  LOGFILE="$CR/postgresql.log"
}

create_cluster() { # PORT
  local port=$1 pw pwfile locale_opt
  [[ -x "$PGBIN/initdb" ]] ||
    die "$PGBIN/initdb not found; install postgresql-15 (deploy/install-deps.sh)"
  choose_cluster_root

  pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  pwfile="$CR/.pwfile"
  (umask 077 && printf '%s\n' "$pw" >"$pwfile")
  if ((EUID == 0)); then chown "$PG_OS_USER:" "$pwfile"; fi

  locale_opt=--locale=C
  if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
    locale_opt=--locale=C.UTF-8
  fi

  log "initdb $DATA (OS user $PG_OS_USER, role $DB_ROLE)"
  if ! as_pg "$PGBIN/initdb" -D "$DATA" -U "$DB_ROLE" --pwfile="$pwfile" \
      --auth-host=scram-sha-256 --auth-local=peer \
      --encoding=UTF8 "$locale_opt" --no-instructions 2>&1 |
      as_pg tee "$CR/initdb.log" >/dev/null; then
    rm -f -- "$pwfile"
    cat -- "$CR/initdb.log" >&2 || true
    die "initdb failed (cluster left in $CR; run: $0 destroy $DIR)"
  fi
  rm -f -- "$pwfile"

  # Local (Unix socket) peer auth: let the cluster's OS user and the
  # invoking user connect as role onenet; everybody else as themselves.
  as_pg sed -i 's/^\(local[[:space:]].*[[:space:]]peer\)[[:space:]]*$/\1 map=onenet/' \
    "$DATA/pg_hba.conf"
  {
    printf '%-10s %-20s %s\n' onenet "$PG_OS_USER" "$DB_ROLE"
    [[ "$(id -un)" == "$PG_OS_USER" ]] || printf '%-10s %-20s %s\n' onenet "$(id -un)" "$DB_ROLE"
    printf '%-10s %-20s %s\n' onenet '/^(.*)$' '\1'
  } | as_pg tee -a "$DATA/pg_ident.conf" >/dev/null
  printf "\ninclude = 'onenet.conf'\n" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
  write_conf "$port"

  ln -sfn -- "$LOGFILE" "$DIR/postgresql.log"
  write_conninfo "$pw" "$port"
}

# ---------------------------------------------------------------- commands

cmd_start() { # [PORT]
  local want_port=${1:-} port pw pid
  if [[ -n "$want_port" ]] && ! valid_port "$want_port"; then
    die "invalid port: $want_port"
  fi
  mkdir -p -- "$DIR"

  if ! resolve_cluster; then
    port=${want_port:-$(free_port)}
    create_cluster "$port"
  else
    port=$(conf_port)
    if is_running; then
      if [[ -n "$want_port" && "$want_port" != "$port" ]]; then
        log "warning: already running on port $port (not $want_port)"
      fi
      cat -- "$CONNINFO"
      return 0
    fi
    pw=$(conninfo_password)
    if [[ -n "$want_port" && "$want_port" != "$port" ]]; then
      port=$want_port
      write_conf "$port"
    fi
    write_conninfo "$pw" "$port"
    # A SIGKILLed postmaster can linger as a zombie when nobody reaps it;
    # PostgreSQL would take its PID in postmaster.pid for a live server.
    if pid=$(pid_of_postmaster) && ! alive "$pid"; then
      if ps -o stat= -p "$pid" 2>/dev/null | grep -q '^Z'; then
        log "removing stale lock files (postmaster PID $pid is an unreaped zombie)"
        as_pg rm -f "$DATA/postmaster.pid"
        local lock
        for lock in "$CR"/.s.PGSQL.*.lock; do
          [[ -e "$lock" ]] || continue
          if [[ "$(head -n 1 "$lock" 2>/dev/null)" == "$pid" ]]; then
            as_pg rm -f "$lock" "${lock%.lock}"
          fi
        done
      fi
    fi
  fi

  log "starting PostgreSQL on 127.0.0.1:$port ($DATA)"
  # Right after a crash (kill) the kernel may still be tearing down the
  # dead server's sockets and shared memory; a postmaster that dies at once
  # then gets two more tries, a second apart.
  local attempt
  for attempt in 1 2 3; do
    if as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 120 start >&2; then
      break
    fi
    show_log_tail
    ((attempt < 3)) || die "PostgreSQL did not start"
    log "PostgreSQL did not start (attempt $attempt of 3), trying again"
    if pid=$(pid_of_postmaster) && ! alive "$pid"; then
      as_pg rm -f "$DATA/postmaster.pid"
    fi
    sleep 1
  done

  pw=$(conninfo_password)
  if [[ "$(psql_admin "$pw" "$port" -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]]; then
    log "creating database $DB_NAME owned by $DB_ROLE"
    psql_admin "$pw" "$port" -c "CREATE DATABASE $DB_NAME OWNER $DB_ROLE" >&2
  fi
  cat -- "$CONNINFO"
}

cmd_stop() {
  if ! resolve_cluster; then
    log "no cluster in $DIR"
    return 0
  fi
  if ! is_running; then
    log "not running"
    return 0
  fi
  log "stopping PostgreSQL ($DATA)"
  if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 120 stop >&2; then
    show_log_tail
    die "PostgreSQL did not stop"
  fi
}

cmd_kill() {
  resolve_cluster || die "no cluster in $DIR"
  local pid pgid pids=() p i
  if ! is_running; then
    log "not running"
    return 0
  fi
  pid=$(pid_of_postmaster)
  pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
  if [[ "$pgid" == "$pid" ]]; then
    # pg_ctl starts the postmaster in its own session: kill the whole group
    # at once, like a power cut (children would exit on their own anyway).
    log "SIGKILL postmaster $pid and its process group"
    kill -KILL -- "-$pid"
  else
    mapfile -t pids < <(pgrep -P "$pid" || true)
    log "SIGKILL postmaster $pid and ${#pids[@]} children"
    kill -KILL "$pid" "${pids[@]}" 2>/dev/null || true
  fi
  for ((i = 0; i < 300; i++)); do
    local left=0
    while read -r p; do
      if [[ -n "$p" ]] && alive "$p"; then left=1; fi
    done < <(pgrep -g "$pid" 2>/dev/null || true; printf '%s\n' "$pid" "${pids[@]}")
    ((left == 0)) && return 0
    sleep 0.1
  done
  die "postgres processes of $DATA still alive 30 s after SIGKILL"
}

cmd_status() {
  if ! resolve_cluster; then
    log "no cluster in $DIR"
    exit 3
  fi
  if is_running; then
    log "running (PID $(pid_of_postmaster), port $(conf_port), data $DATA)"
    exit 0
  fi
  log "not running (data $DATA)"
  exit 3
}

cmd_conninfo() {
  resolve_cluster || die "no cluster in $DIR"
  [[ -r "$CONNINFO" ]] || die "cannot read $CONNINFO"
  cat -- "$CONNINFO"
}

cmd_destroy() {
  if [[ ! -e "$DIR" && ! -L "$DIR" ]]; then
    log "$DIR does not exist"
    return 0
  fi
  local target=""
  if [[ -L "$LINK" ]]; then
    target=$(readlink -- "$LINK")
  fi
  # Stop the server if there is a usable cluster; never let a broken one
  # (dangling pointer, interrupted initdb) prevent the removal.
  if [[ -e "$LINK" ]]; then
    CR=$(readlink -f -- "$LINK")
    DATA="$CR/data"
    LOGFILE="$CR/postgresql.log"
    if ((EUID == 0)); then PG_OS_USER=$(stat -c %U -- "$CR"); else PG_OS_USER=$(id -un); fi
    if [[ "$PG_OS_USER" != root ]] && is_running; then
      log "stopping PostgreSQL ($DATA)"
      if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2; then
        log "fast shutdown failed; killing it"
        cmd_kill
      fi
    fi
  fi
  if [[ "$target" == /tmp/onenet-pg.* ]]; then
    log "removing $target"
    rm -rf -- "$target"
  fi
  log "removing $DIR"
  rm -rf -- "$DIR"
}

# ---------------------------------------------------------------- main

(($# >= 2)) || usage
cmd=$1
[[ -n "$2" ]] || usage
set_paths "$(realpath -m -- "$2")"
case "$cmd" in
  start)
    (($# <= 3)) || usage
    cmd_start "${3:-}"
    ;;
  stop)     (($# == 2)) || usage; cmd_stop ;;
  restart)
    (($# == 2)) || usage
    resolve_cluster || die "no cluster in $DIR"
    cmd_stop
    cmd_start
    ;;
  kill)     (($# == 2)) || usage; cmd_kill ;;
  status)   (($# == 2)) || usage; cmd_status ;;
  conninfo) (($# == 2)) || usage; cmd_conninfo ;;
  destroy)  (($# == 2)) || usage; cmd_destroy ;;
  *) usage ;;
esac
