#!/usr/bin/env bash
# Create an onenet database with least-privilege login roles, and migrate it.
#
# Usage: deploy/db-setup.sh [options]
#
# Connects with the PG* environment variables (PGHOST, PGPORT, PGUSER,
# PGPASSWORD, ...) as an administrator: a role that may create roles and
# databases (a superuser, or one with CREATEROLE and CREATEDB). Then:
#   1. creates the owner login role (the migrator) and the database it owns;
#   2. creates the group roles onenet_hub, onenet_operator and
#      onenet_analyst (NOLOGIN) and one login role per --hub, --operator
#      and --analyst, each a member of its group (a hub login is also a
#      member of onenet_analyst: the hub's supervision page reads as that
#      role, so that it sees personal data masked);
#   3. runs `hubctl migrate` as the owner, which creates the tables and
#      grants each group exactly what it needs (hub/sql/004, 005).
# Safe to run again: what exists is kept, passwords are (re)set, missing
# roles are added, migrations not yet applied are applied.
#
# Options:
#   --database NAME   database to create (default: onenet)
#   --owner ROLE      owner and migrator login role (default: onenet_owner)
#   --hub ROLE        a login role for onenet-hub processes (repeatable)
#   --operator ROLE   a login role for operators running hubctl (repeatable)
#   --analyst ROLE    a login role for analysts, views only (repeatable)
#   --passwords DIR   each role's password is read from DIR/ROLE, a file
#                     readable by its owner only; a role without a file gets
#                     no password (for peer or certificate authentication)
#   --hubctl PATH     the hubctl binary (default: build/hubctl, then PATH)
#   --help            this text
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
database=onenet
owner=onenet_owner
hubs=() operators=() analysts=()
passwords=""
hubctl=""

log() { printf 'db-setup: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
  case "$1" in
    --database) database=${2:?--database needs a name}; shift 2 ;;
    --owner) owner=${2:?--owner needs a role}; shift 2 ;;
    --hub) hubs+=("${2:?--hub needs a role}"); shift 2 ;;
    --operator) operators+=("${2:?--operator needs a role}"); shift 2 ;;
    --analyst) analysts+=("${2:?--analyst needs a role}"); shift 2 ;;
    --passwords) passwords=${2:?--passwords needs a directory}; shift 2 ;;
    --hubctl) hubctl=${2:?--hubctl needs a path}; shift 2 ;;
    --help|-h) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
done

if [[ -z "$hubctl" ]]; then
  if [[ -x "$here/../build/hubctl" ]]; then hubctl="$here/../build/hubctl"
  else hubctl=$(command -v hubctl) || die "hubctl not found: give --hubctl PATH"
  fi
fi
command -v psql >/dev/null || die "psql not found (postgresql-client-15)"

# Every value reaches SQL as a psql variable, quoted by psql itself
# (:"x" an identifier, :'x' a literal): no SQL is built from arguments.
admin() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

password_of() { # ROLE -> prints the password, or nothing
  local f
  [[ -n "$passwords" ]] || return 0
  f="$passwords/$1"
  [[ -e "$f" ]] || return 0
  if [[ -n "$(find "$f" -perm /077)" ]]; then
    die "password file $f is readable by others than its owner (chmod 600 it)"
  fi
  head -n 1 -- "$f"
}

ensure_role() { # ROLE LOGIN|NOLOGIN [GROUP]
  local role=$1 login=$2 group=${3:-} pw
  admin -d postgres -v r="$role" -v login="$login" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'r') AS missing \gset
\if :missing
CREATE ROLE :"r" :login;
\echo db-setup: created role :r
\else
ALTER ROLE :"r" :login;
\endif
SQL
  if [[ -n "$group" ]]; then
    admin -d postgres -v r="$role" -v g="$group" <<<'GRANT :"g" TO :"r";'
  fi
  pw=$(password_of "$role")
  if [[ -n "$pw" ]]; then
    # through the environment, not the command line (visible in ps)
    ONENET_SETUP_PASSWORD="$pw" admin -d postgres -v r="$role" <<'SQL'
\getenv pw ONENET_SETUP_PASSWORD
ALTER ROLE :"r" PASSWORD :'pw';
SQL
  fi
}

# 1. the owner and its database
ensure_role "$owner" LOGIN
admin -d postgres -v d="$database" -v o="$owner" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'d') AS missing \gset
\if :missing
CREATE DATABASE :"d" OWNER :"o" ENCODING 'UTF8';
\echo db-setup: created database :d
\endif
SQL
# 2. groups, then login roles in them (before the migrations, so that the
#    owner needs no CREATEROLE)
for g in onenet_hub onenet_operator onenet_analyst; do ensure_role "$g" NOLOGIN; done
for r in "${hubs[@]}"; do
  ensure_role "$r" LOGIN onenet_hub
  admin -d postgres -v r="$r" <<<'GRANT onenet_analyst TO :"r";'
done
for r in "${operators[@]}"; do ensure_role "$r" LOGIN onenet_operator; done
for r in "${analysts[@]}"; do ensure_role "$r" LOGIN onenet_analyst; done
# 3. the schema, created by the owner: this session switches to the owner
#    role (the administrator may), so the owner owns every table
log "migrating database $database as $owner"
PGDATABASE="$database" PGOPTIONS="-c role=$owner" "$hubctl" --db "" migrate
log "done: hubs connect as ${hubs[*]:-(none given)}, operators as" \
    "${operators[*]:-(none given)}, analysts as ${analysts[*]:-(none given)}"
