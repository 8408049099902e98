# FerretDB, sourced by scripts/services.sh (its helpers: log, die, as_root, apt_install,
# tail_log, port_open, STATE_DIR, WAIT_SECONDS, DB_NAME). The MongoDB wire protocol on
# 127.0.0.1:27017 (FERRETDB_PORT), over SQLite files in $STATE_DIR/ferretdb, built from source with Go.
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
FERRETDB_DIR="$STATE_DIR/ferretdb"
FERRETDB_DEBUG_ADDR="${FERRETDB_DEBUG_ADDR:-127.0.0.1:8088}"
FERRETDB_PORT="${FERRETDB_PORT:-27017}"

# Real MongoDB-wire check: send OP_MSG {ping:1, $db:"admin"} and expect ok: 1.
# Uses node (always present for this project); falls back to a TCP connect.
mongo_ping() {
  if ! command -v node >/dev/null 2>&1; then
    port_open "$FERRETDB_PORT"
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
const s = net.connect(Number(process.argv[1]), "127.0.0.1", () => s.write(msg));
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
' "$FERRETDB_PORT" >/dev/null 2>&1
}

# A `go install ...@version` build panics at startup (the module zip lacks the generated
# build/version/version.txt), so go_tool writes that file into the source before building, and
# a binary counts only when --version answers with this version.
ferretdb_current() { "$1" --version 2>/dev/null | grep -qxF "version: $FERRETDB_VERSION"; }
ferretdb_version_file() { echo "$FERRETDB_VERSION" >"$1/build/version/version.txt"; }

find_ferretdb() {
  local c
  for c in "${FERRETDB_BIN:-}" /usr/local/bin/ferretdb /root/go/bin/ferretdb "$(command -v ferretdb 2>/dev/null || true)"; do
    if [ -n "$c" ] && ferretdb_current "$c"; then echo "$c"; return 0; fi
  done
  return 1
}

start_ferretdb() {
  local flog="$STATE_DIR/ferretdb.log" bin
  if mongo_ping; then
    log "ferretdb: already up on 127.0.0.1:$FERRETDB_PORT"
    return 0
  fi
  bin="$(find_ferretdb || true)"
  if [ -z "$bin" ]; then
    # /usr/local/bin, where it has always been: on the PATH the tests spawn their own from.
    bin="$(go_tool ferretdb github.com/FerretDB/FerretDB "$FERRETDB_VERSION" ./cmd/ferretdb \
      --bin /usr/local/bin/ferretdb --current ferretdb_current --prepare ferretdb_version_file)" \
      || die "could not build FerretDB $FERRETDB_VERSION (above)"
  fi
  if port_open "$FERRETDB_PORT"; then
    die "port 127.0.0.1:$FERRETDB_PORT is taken by something that does not answer a MongoDB ping"
  fi
  mkdir -p "$FERRETDB_DIR/data" "$FERRETDB_DIR/state"
  log "ferretdb: starting $bin (log: $flog)"
  setsid nohup "$bin" \
    --handler=sqlite \
    --sqlite-url="file:$FERRETDB_DIR/data/" \
    --listen-addr=127.0.0.1:$FERRETDB_PORT \
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
  mongo_ping || { tail_log "$flog"; die "ferretdb did not answer a MongoDB ping on 127.0.0.1:$FERRETDB_PORT within ${WAIT_SECONDS}s"; }
  log "ferretdb: ready (pid $pid)"
}

export_ferretdb() {
  echo "export MONGODB_URL=mongodb://127.0.0.1:$FERRETDB_PORT/$DB_NAME"
}
