#!/usr/bin/env bash
# Installs onenet as system services: the onenet system user, its
# directories, the settings files, the workflow definitions and the systemd
# units (deploy/systemd). Safe to run again: it creates what is missing,
# brings the units up to date, and never overwrites a settings file or a
# workflow definition an operator may have edited.
#
# Usage: deploy/install-service.sh [--bindir DIR] [--root DIR] [--adapters LIST]
#   --bindir    where the onenet programs are installed (default
#               /usr/local/bin, where `cmake --install build` puts them);
#               the units' ExecStart lines name this directory
#   --root      install under this directory instead of / (a staging or
#               test tree); the user is not created and nothing is chowned
#               there, and systemd is not reloaded
#   --adapters  agencies that run an adapter on this machine, comma-separated
#               (default: none, for a hub machine); each gets
#               /etc/onenet/adapter-AGENCY.conf and spool directories
#
# Not done here: the programs themselves (cmake --install build), the
# PostgreSQL database and roles (deploy/db-setup.sh), the CURVE key files
# in /etc/onenet/keys, and enabling the units; the script prints the next
# steps. Exit status 0 done, 1 failure, 2 usage error.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

bindir=/usr/local/bin root=/ adapters=""
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
while (($# > 0)); do
  case "$1" in
    --bindir) bindir=${2:?--bindir needs a directory}; shift ;;
    --root) root=${2:?--root needs a directory}; shift ;;
    --adapters) adapters=${2?--adapters needs a list}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) printf 'install-service.sh: unknown option: %s\nTry "deploy/install-service.sh --help".\n' \
         "$1" >&2; exit 2 ;;
  esac
  shift
done
[[ $bindir == /* ]] || { echo "install-service.sh: --bindir must be absolute: $bindir" >&2; exit 2; }
root=${root%/}
say() { printf 'install-service: %s\n' "$*"; }
die() { printf 'install-service: error: %s\n' "$*" >&2; exit 1; }

IFS=, read -r -a agencies <<<"$adapters"
for a in "${agencies[@]}"; do
  [[ $a =~ ^[a-z][a-z0-9_]*$ ]] || { echo "install-service.sh: --adapters: bad agency code \"$a\" (a-z, 0-9, _)" >&2; exit 2; }
done

real=0
[[ -z $root ]] && real=1
((real == 0 || EUID == 0)) || die "run as root to install into / (or give --root)"

# the service user: no login, home = its state directory
if ((real)); then
  if ! getent group onenet >/dev/null; then
    groupadd --system onenet
    say "created group onenet"
  fi
  if ! getent passwd onenet >/dev/null; then
    useradd --system --gid onenet --home-dir /var/lib/onenet --no-create-home \
      --shell /usr/sbin/nologin --comment "onenet hub and adapters" onenet
    say "created user onenet"
  fi
fi

# DIR MODE OWNER:GROUP — created if missing, mode and owner set every time
dir() {
  local path=$root$1
  if [[ ! -d $path ]]; then
    mkdir -p "$path"
    say "created $1"
  fi
  chmod "$2" "$path"
  ((real)) && chown "$3" "$path"
  return 0
}
# SOURCE DEST MODE OWNER:GROUP — copied only when DEST does not exist
keep_file() {
  local dest=$root$2
  if [[ -e $dest ]]; then
    return 0
  fi
  install -m "$3" "$1" "$dest"
  ((real)) && chown "$4" "$dest"
  say "installed $2"
}

dir /etc/onenet 0750 root:onenet
dir /etc/onenet/keys 0750 root:onenet
dir /etc/onenet/workflows 0755 root:root
dir /var/lib/onenet 0750 onenet:onenet
dir /var/spool/onenet 0750 onenet:onenet

keep_file "$src/deploy/etc/hub.conf" /etc/onenet/hub.conf 0640 root:onenet
for wf in "$src"/workflows/*.yaml; do
  keep_file "$wf" "/etc/onenet/workflows/$(basename "$wf")" 0644 root:root
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for a in "${agencies[@]}"; do
  # the spool is shared with the agency's export job: group-writable,
  # setgid so what it drops stays in group onenet
  dir "/var/spool/onenet/$a" 2770 onenet:onenet
  dir "/var/spool/onenet/$a-tasks" 2770 onenet:onenet
  sed "s/@AGENCY@/$a/g" "$src/deploy/etc/adapter.conf.in" >"$tmp/adapter-$a.conf"
  keep_file "$tmp/adapter-$a.conf" "/etc/onenet/adapter-$a.conf" 0640 root:onenet
done

# units: rewritten when they differ (the programs' directory substituted)
dir /etc/systemd/system 0755 root:root
changed=0
for unit in "$src"/deploy/systemd/*.service; do
  name=$(basename "$unit")
  sed "s#/usr/local/bin/#${bindir%/}/#g" "$unit" >"$tmp/$name"
  dest=$root/etc/systemd/system/$name
  if ! cmp -s "$tmp/$name" "$dest"; then
    install -m 0644 "$tmp/$name" "$dest"
    say "installed /etc/systemd/system/$name"
    changed=1
  fi
done
# hubctl's manual page and bash completion (rewritten when they differ)
dir /usr/local/share/man/man1 0755 root:root
dir /usr/local/share/bash-completion/completions 0755 root:root
for pair in "deploy/hubctl/hubctl.1:/usr/local/share/man/man1/hubctl.1" \
            "deploy/hubctl/hubctl.bash:/usr/local/share/bash-completion/completions/hubctl"; do
  from=$src/${pair%%:*} to=${pair#*:}
  if ! cmp -s "$from" "$root$to"; then
    install -m 0644 "$from" "$root$to"
    say "installed $to"
  fi
done

for prog in onenet-hub onenet-adapter; do
  [[ -x $bindir/$prog ]] || say "warning: $bindir/$prog is not installed yet (cmake --install build)"
done

if ((real && changed)) && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  say "systemd reloaded"
fi

cat <<EOF
install-service: done. Next steps:
  1. the database and its roles: deploy/db-setup.sh (once per database);
     the hub's password in /var/lib/onenet/.pgpass (mode 0600, owner onenet)
  2. the CURVE key files in /etc/onenet/keys (mode 0600, owner onenet)
  3. edit /etc/onenet/hub.conf and /etc/onenet/adapter-*.conf (hub_id,
     adapter_id, addresses, the hubs' public key)
  4. systemctl enable --now onenet-hub             (on a hub machine)
     systemctl enable --now onenet-adapter@AGENCY  (land, tax, power, water, bank:
                                                    the agency's own program)
     systemctl enable --now onenet-adapter-generic@AGENCY (generic NDJSON)
EOF
