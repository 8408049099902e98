#!/usr/bin/env bash
# Bring up the real backing services the bookstore tests need, on loopback:
#   MariaDB  127.0.0.1:3306  (Debian mariadb-server)  db/user bookstore_test / bookstore:bookstore
#   Redis    127.0.0.1:6379  (Debian redis-server)
#   FerretDB 127.0.0.1:27017 (MongoDB wire protocol, SQLite backend, built from source with Go)
#
# Usage (as root, on Debian):   eval "$(scripts/services.sh)"
#
# Idempotent: installs only what is missing, starts only what is not answering,
# so a second run takes about a second. Progress and logs go to stderr / to
# $BOOKSTORE_SERVICES_DIR (default /var/tmp/bookstore-services); stdout gets
# exactly one `export ...=...` line per service. Exits non-zero if a service cannot be
# brought up.
#
# Each service is one file, scripts/services/NAME.sh, defining start_NAME (bring it up, or
# see that it is up) and export_NAME (its export line); SERVICES lists them in start and
# print order.
set -Eeuo pipefail
SERVICES=(mariadb ferretdb redis mailpit)

# Keep stdout clean: everything goes to stderr, only the final exports go to fd 3.
exec 3>&1 1>&2

STATE_DIR="${BOOKSTORE_SERVICES_DIR:-/var/tmp/bookstore-services}"
WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"
# The database the tests use, on the SQL server and on the MongoDB one.
DB_NAME=bookstore_test

START_TS=$(date +%s)
log() { printf '[services] %s\n' "$*" >&2; }
DIED=0
die() { DIED=1; printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$DIED" -eq 0 ]; then
    printf '[services] ERROR: aborted (exit %s); logs are in %s\n' "$rc" "$STATE_DIR" >&2
  fi
}
trap on_exit EXIT

mkdir -p "$STATE_DIR" || die "cannot create state dir $STATE_DIR"

# Serialize concurrent invocations. Every long-lived child gets `3>&- 8>&-` so
# daemons never hold the lock or the caller's stdout (which would hang "$(...)").
exec 8>"$STATE_DIR/services.lock"
flock -w 900 8 || die "timed out waiting for lock $STATE_DIR/services.lock"

if [ "$(id -u)" -eq 0 ]; then
  as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
  as_root() { sudo -n "$@"; }
else
  as_root() { die "need root for: $*"; }
fi

tail_log() { # file
  if [ -f "$1" ]; then
    log "---- last lines of $1 ----"
    tail -n 25 "$1" >&2 || true
    log "---- (full log: $1) ----"
  fi
}

port_open() { # port
  timeout 2 bash -c "exec 9<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# ---------------------------------------------------------------- apt packages
pkg_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

APT_UPDATED=0
apt_install() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local aptlog="$STATE_DIR/apt.log"
  log "installing ${missing[*]} (log: $aptlog)"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root apt-get -o DPkg::Lock::Timeout=300 update >>"$aptlog" 2>&1 3>&- 8>&- \
      || { tail_log "$aptlog"; die "apt-get update failed"; }
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends "${missing[@]}" >>"$aptlog" 2>&1 3>&- 8>&- \
    || { tail_log "$aptlog"; die "apt-get install ${missing[*]} failed"; }
}

# ---------------------------------------------------------------- main
here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# go_tool: FerretDB and mailpit are built with it when their binary is missing.
. "$here/lib/go-tool.sh"
for service in "${SERVICES[@]}"; do
  # shellcheck source=/dev/null
  . "$here/services/$service.sh"
done
for service in "${SERVICES[@]}"; do "start_$service"; done

log "all services up in $(($(date +%s) - START_TS))s"
for service in "${SERVICES[@]}"; do "export_$service"; done >&3
