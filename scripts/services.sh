#!/usr/bin/env bash
# Bring up the real backing services the bookstore tests need, on loopback:
#   MariaDB  127.0.0.1:3306  (Debian mariadb-server)  db/user bookstore_test / bookstore:bookstore
#   Redis    127.0.0.1:6379  (Debian redis-server)
#   FerretDB 127.0.0.1:27017 (MongoDB wire protocol, SQLite backend, built with `go install`)
#
# Usage (as root, on Debian):   eval "$(scripts/services.sh)"
#
# Idempotent: installs only what is missing, starts only what is not answering,
# so a second run takes about a second. Progress and logs go to stderr / to
# $BOOKSTORE_SERVICES_DIR (default /var/tmp/bookstore-services); stdout gets
# exactly three `export ...=...` lines. Exits non-zero if a service cannot be
# brought up.
set -Eeuo pipefail

# Keep stdout clean: everything goes to stderr, only the final exports go to fd 3.
exec 3>&1 1>&2

STATE_DIR="${BOOKSTORE_SERVICES_DIR:-/var/tmp/bookstore-services}"
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
FERRETDB_DIR="$STATE_DIR/ferretdb"
FERRETDB_DEBUG_ADDR="${FERRETDB_DEBUG_ADDR:-127.0.0.1:8088}"
WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-60}"

DB_NAME=bookstore_test
DB_USER=bookstore
DB_PASS=bookstore

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

# ---------------------------------------------------------------- MariaDB
mysql_app_ok() {
  mysql --protocol=tcp -h127.0.0.1 -P3306 -u"$DB_USER" -p"$DB_PASS" "$DB_NAME" \
    -N -B -e 'SELECT 1' >/dev/null 2>&1
}
mysql_alive() { # server answers at all (mysqladmin ping succeeds even on access denied)
  mysqladmin --protocol=tcp -h127.0.0.1 -P3306 -u"$DB_USER" -p"$DB_PASS" --connect-timeout=2 ping >/dev/null 2>&1
}

start_mariadb() {
  local mlog="$STATE_DIR/mariadb.log"
  apt_install mariadb-server mariadb-client

  if mysql_app_ok; then
    log "mariadb: already up, $DB_USER can reach $DB_NAME"
    return 0
  fi

  if ! mysql_alive; then
    # Make sure it listens on loopback TCP 3306 (Debian default, but be explicit).
    local cnf=/etc/mysql/mariadb.conf.d/99-bookstore-services.cnf
    if [ -d /etc/mysql/mariadb.conf.d ] && [ ! -f "$cnf" ]; then
      as_root tee "$cnf" >/dev/null <<'EOF'
# written by bookstore scripts/services.sh
[mysqld]
bind-address = 127.0.0.1
port = 3306
skip-networking = 0
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
EOF
    fi
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld
    if [ ! -d /var/lib/mysql/mysql ]; then
      log "mariadb: initializing data directory"
      as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >>"$mlog" 2>&1 \
        || { tail_log "$mlog"; die "mariadb-install-db failed"; }
    fi

    local elog="$STATE_DIR/mariadb-error.log" pidf=/run/mysqld/mysqld.pid oldpid="" safepid=""
    [ -f "$pidf" ] && oldpid="$(as_root cat "$pidf" 2>/dev/null || true)"
    if [ -n "$oldpid" ] && as_root kill -0 "$oldpid" 2>/dev/null; then
      # A server is still starting up / recovering: wait for it instead of racing it.
      log "mariadb: server process $oldpid exists, waiting for it"
    else
      as_root rm -f "$pidf" # stale pid file from a killed server
      log "mariadb: starting (log: $mlog, $elog)"
      if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        as_root systemctl start mariadb >>"$mlog" 2>&1 3>&- 8>&- || log "mariadb: systemctl start failed, trying mysqld_safe"
      fi
      if ! mysql_alive; then
        # No systemd here (containers): run mysqld_safe detached; it supervises mariadbd.
        # Debian's mysqld_safe logs to syslog (absent in containers), so log to a file,
        # which must be writable by the mysql user.
        as_root touch "$elog" && as_root chown mysql:mysql "$elog"
        as_root setsid nohup mysqld_safe --user=mysql --bind-address=127.0.0.1 --port=3306 \
          --skip-syslog --log-error="$elog" \
          </dev/null >>"$mlog" 2>&1 3>&- 8>&- &
        safepid=$!
      fi
    fi
    local i
    for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
      mysql_alive && break
      if [ -n "$safepid" ] && ! kill -0 "$safepid" 2>/dev/null; then
        tail_log "$mlog"; tail_log "$elog"; die "mysqld_safe exited before mariadb answered on 127.0.0.1:3306"
      fi
      sleep 0.5
    done
    mysql_alive || { tail_log "$mlog"; tail_log "$elog"; die "mariadb did not answer on 127.0.0.1:3306 within ${WAIT_SECONDS}s"; }
  fi

  log "mariadb: creating database $DB_NAME and user $DB_USER"
  # Debian's root@localhost authenticates via unix_socket, so OS root needs no password.
  as_root mysql --protocol=socket -uroot >>"$mlog" 2>&1 <<EOF \
    || { tail_log "$mlog"; die "could not create database/user as MariaDB root (unix_socket auth as OS root)"; }
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1', '$DB_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`bookstore\\_test%\`.* TO '$DB_USER'@'127.0.0.1', '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF

  mysql_app_ok || { tail_log "$mlog"; die "mariadb is up but $DB_USER@127.0.0.1 cannot query $DB_NAME"; }
  log "mariadb: ready"
}

# ---------------------------------------------------------------- Redis
redis_ok() {
  [ "$(timeout 3 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null || true)" = "PONG" ]
}

start_redis() {
  local rlog="$STATE_DIR/redis.log"
  apt_install redis-server redis-tools
  if redis_ok; then
    log "redis: already up"
    return 0
  fi
  if port_open 6379; then
    die "port 127.0.0.1:6379 is taken by something that does not answer redis PING"
  fi
  mkdir -p "$STATE_DIR/redis"
  log "redis: starting (log: $rlog)"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
    --dir "$STATE_DIR/redis" --pidfile "$STATE_DIR/redis.pid" --logfile "$rlog" </dev/null >>"$rlog" 2>&1 3>&- 8>&- \
    || { tail_log "$rlog"; die "redis-server failed to start"; }
  local i
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    redis_ok && break
    sleep 0.5
  done
  redis_ok || { tail_log "$rlog"; die "redis did not answer PING on 127.0.0.1:6379 within ${WAIT_SECONDS}s"; }
  log "redis: ready"
}

# ---------------------------------------------------------------- FerretDB
# Real MongoDB-wire check: send OP_MSG {ping:1, $db:"admin"} and expect ok: 1.
# Uses node (always present for this project); falls back to a TCP connect.
mongo_ping() {
  if ! command -v node >/dev/null 2>&1; then
    port_open 27017
    return
  fi
  timeout 5 node -e '
const net = require("net");
const i32 = (n) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const cstr = (s) => Buffer.from(s + "\0");
const body = Buffer.concat([Buffer.from([0x10]), cstr("ping"), i32(1),
  Buffer.from([0x02]), cstr("$db"), i32(6), cstr("admin"), Buffer.from([0])]);
const doc = Buffer.concat([i32(body.length + 4), body]);
const msg = Buffer.concat([i32(16 + 4 + 1 + doc.length), i32(1), i32(0), i32(2013), i32(0), Buffer.from([0]), doc]);
const s = net.connect(27017, "127.0.0.1", () => s.write(msg));
let buf = Buffer.alloc(0);
s.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  if (buf.length >= 4 && buf.length >= buf.readInt32LE(0)) {
    const k = buf.indexOf(Buffer.from("\x01ok\x00", "latin1"), 21);
    process.exit(k > 0 && buf.readDoubleLE(k + 4) === 1 ? 0 : 1);
  }
});
s.on("error", () => process.exit(1));
setTimeout(() => process.exit(1), 4000);
' >/dev/null 2>&1
}

find_ferretdb() {
  local c
  for c in "${FERRETDB_BIN:-}" /usr/local/bin/ferretdb /root/go/bin/ferretdb "$(command -v ferretdb 2>/dev/null || true)"; do
    # --version also weeds out a broken `go install` build (it panics at startup)
    if [ -n "$c" ] && [ -x "$c" ] && "$c" --version >/dev/null 2>&1; then echo "$c"; return 0; fi
  done
  return 1
}

# `go install ...@version` yields a binary that panics at startup (the module zip
# lacks the generated build/version/version.txt), so: download the module source,
# copy it, write version.txt, and `go build` it.
build_ferretdb() {
  local blog="$STATE_DIR/ferretdb-build.log" go work src
  go="$(command -v go 2>/dev/null || true)"
  if [ -z "$go" ] && [ -x /usr/local/go/bin/go ]; then go=/usr/local/go/bin/go; fi
  [ -n "$go" ] || die "FerretDB binary missing and no Go toolchain found (looked on PATH and /usr/local/go/bin/go)"
  log "ferretdb: building $FERRETDB_VERSION with $go (takes a few minutes; log: $blog)"
  local t0=$SECONDS
  work="$(mktemp -d "$STATE_DIR/ferretdb-build.XXXXXX")"
  src="$(cd "$work" && GOFLAGS= "$go" mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" 2>>"$blog" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n 1)" || true
  if [ -z "$src" ] || [ ! -d "$src" ]; then
    rm -rf "$work"; tail_log "$blog"; die "could not download FerretDB $FERRETDB_VERSION module source"
  fi
  cp -R "$src" "$work/src" && chmod -R u+w "$work/src"
  echo "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
  if ! (cd "$work/src" && GOFLAGS= CGO_ENABLED=0 "$go" build -buildvcs=false -trimpath \
        -o "$work/ferretdb" ./cmd/ferretdb) >>"$blog" 2>&1 3>&- 8>&-; then
    rm -rf "$work"; tail_log "$blog"; die "go build of FerretDB $FERRETDB_VERSION failed"
  fi
  "$work/ferretdb" --version >>"$blog" 2>&1 || { rm -rf "$work"; tail_log "$blog"; die "built FerretDB binary does not run"; }
  as_root install -m 0755 "$work/ferretdb" /usr/local/bin/ferretdb
  rm -rf "$work"
  log "ferretdb: built /usr/local/bin/ferretdb in $((SECONDS - t0))s"
}

start_ferretdb() {
  local flog="$STATE_DIR/ferretdb.log" bin
  if mongo_ping; then
    log "ferretdb: already up on 127.0.0.1:27017"
    return 0
  fi
  bin="$(find_ferretdb || true)"
  if [ -z "$bin" ]; then
    build_ferretdb
    bin=/usr/local/bin/ferretdb
  fi
  if port_open 27017; then
    die "port 127.0.0.1:27017 is taken by something that does not answer a MongoDB ping"
  fi
  mkdir -p "$FERRETDB_DIR/data" "$FERRETDB_DIR/state"
  log "ferretdb: starting $bin (log: $flog)"
  setsid nohup "$bin" \
    --handler=sqlite \
    --sqlite-url="file:$FERRETDB_DIR/data/" \
    --listen-addr=127.0.0.1:27017 \
    --state-dir="$FERRETDB_DIR/state" \
    --debug-addr="$FERRETDB_DEBUG_ADDR" \
    --telemetry=disable \
    --log-level=warn \
    </dev/null >>"$flog" 2>&1 3>&- 8>&- &
  local pid=$!
  echo "$pid" >"$STATE_DIR/ferretdb.pid"
  local i
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    mongo_ping && break
    kill -0 "$pid" 2>/dev/null || { tail_log "$flog"; die "ferretdb exited during startup"; }
    sleep 0.5
  done
  mongo_ping || { tail_log "$flog"; die "ferretdb did not answer a MongoDB ping on 127.0.0.1:27017 within ${WAIT_SECONDS}s"; }
  log "ferretdb: ready (pid $pid)"
}

# ---------------------------------------------------------------- main
start_mariadb
start_redis
start_ferretdb

log "all services up in $(($(date +%s) - START_TS))s"
{
  echo "export DATABASE_URL=mysql://$DB_USER:$DB_PASS@127.0.0.1:3306/$DB_NAME"
  echo "export MONGODB_URL=mongodb://127.0.0.1:27017/$DB_NAME"
  echo "export REDIS_URL=redis://127.0.0.1:6379/0"
} >&3
