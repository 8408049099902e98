# FerretDB, sourced by scripts/services.sh (its helpers: log, die, as_root, apt_install,
# tail_log, port_open, STATE_DIR, WAIT_SECONDS, DB_NAME). The MongoDB wire protocol on
# 127.0.0.1:27017, over SQLite files in $STATE_DIR/ferretdb, built from source with Go.
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
FERRETDB_DIR="$STATE_DIR/ferretdb"
FERRETDB_DEBUG_ADDR="${FERRETDB_DEBUG_ADDR:-127.0.0.1:8088}"

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

export_ferretdb() {
  echo "export MONGODB_URL=mongodb://127.0.0.1:27017/$DB_NAME"
}
