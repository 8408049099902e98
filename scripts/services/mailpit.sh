# Mailpit, sourced by scripts/services.sh (its helpers: log, die, as_root, tail_log, port_open,
# STATE_DIR, WAIT_SECONDS). A real SMTP server for the mail tests, on loopback: SMTP on
# 127.0.0.1:1025, its HTTP API on 127.0.0.1:8025. Built once from the Go module proxy into
# /usr/local/bin/mailpit (scripts/lib/go-tool.sh, as FerretDB is); later runs find the binary.
# Exported as MAILPIT_SMTP_URL / MAILPIT_API_URL, not SMTP_URL: the app's default stays on
# .eml files, and only the tests that ask for mailpit (realBackends, test/faults/mail-*) use it.
MAILPIT_VERSION="${MAILPIT_VERSION:-v1.33.1}"
MAILPIT_DIR="$STATE_DIR/mailpit"
MAILPIT_SMTP_PORT="${MAILPIT_SMTP_PORT:-1025}"
MAILPIT_HTTP_PORT="${MAILPIT_HTTP_PORT:-8025}"

# Mailpit's own API answers with its version (a real check, not just an open port; node is
# always there for this project), and its SMTP port accepts connections.
mailpit_ok() {
  timeout 5 node -e '
fetch(process.argv[1]).then((r) => r.json()).then((info) => process.exit(typeof info.Version === "string" ? 0 : 1), () => process.exit(1))
' "http://127.0.0.1:$MAILPIT_HTTP_PORT/api/v1/info" >/dev/null 2>&1 && port_open "$MAILPIT_SMTP_PORT"
}

mailpit_current() { "$1" version --no-release-check 2>/dev/null | grep -qF "$MAILPIT_VERSION"; }

find_mailpit() {
  local c
  for c in "${MAILPIT_BIN:-}" /usr/local/bin/mailpit /root/go/bin/mailpit "$(command -v mailpit 2>/dev/null || true)"; do
    if [ -n "$c" ] && mailpit_current "$c"; then echo "$c"; return 0; fi
  done
  return 1
}

start_mailpit() {
  local mlog="$STATE_DIR/mailpit.log" bin
  if mailpit_ok; then
    log "mailpit: already up on 127.0.0.1:$MAILPIT_SMTP_PORT (API :$MAILPIT_HTTP_PORT)"
    return 0
  fi
  bin="$(find_mailpit || true)"
  if [ -z "$bin" ]; then
    # The module zip carries everything `go build` needs except the web UI's bundle (built
    # with npm upstream); the tests use the HTTP API only, so the binary is built without it.
    # /usr/local/bin, where it has always been: on the PATH the tests spawn their own from.
    bin="$(go_tool mailpit github.com/axllent/mailpit "$MAILPIT_VERSION" . \
      --bin /usr/local/bin/mailpit --current mailpit_current \
      --ldflags "-s -w -X github.com/axllent/mailpit/config.Version=$MAILPIT_VERSION")" \
      || die "could not build mailpit $MAILPIT_VERSION (above)"
  fi
  if port_open "$MAILPIT_SMTP_PORT" || port_open "$MAILPIT_HTTP_PORT"; then
    die "port 127.0.0.1:$MAILPIT_SMTP_PORT or :$MAILPIT_HTTP_PORT is taken by something that is not mailpit"
  fi
  mkdir -p "$MAILPIT_DIR"
  # A fresh database per start: the tests filter by their own unique recipients, and an old
  # run's messages are no use. The cap keeps a long-lived one from growing without bound.
  rm -f "$MAILPIT_DIR"/mailpit.db*
  log "mailpit: starting $bin (log: $mlog)"
  setsid nohup "$bin" \
    --smtp "127.0.0.1:$MAILPIT_SMTP_PORT" \
    --listen "127.0.0.1:$MAILPIT_HTTP_PORT" \
    --database "$MAILPIT_DIR/mailpit.db" \
    --max 20000 \
    --smtp-auth-accept-any --smtp-auth-allow-insecure \
    --disable-version-check \
    </dev/null >>"$mlog" 2>&1 3>&- 8>&- &
  local pid=$!
  echo "$pid" >"$STATE_DIR/mailpit.pid"
  local i
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    mailpit_ok && break
    kill -0 "$pid" 2>/dev/null || { tail_log "$mlog"; die "mailpit exited during startup"; }
    sleep 0.5
  done
  mailpit_ok || { tail_log "$mlog"; die "mailpit did not answer on 127.0.0.1:$MAILPIT_HTTP_PORT within ${WAIT_SECONDS}s"; }
  log "mailpit: ready (pid $pid)"
}

# One export line per service (services.sh's promise), naming both addresses.
export_mailpit() {
  echo "export MAILPIT_SMTP_URL=smtp://127.0.0.1:$MAILPIT_SMTP_PORT MAILPIT_API_URL=http://127.0.0.1:$MAILPIT_HTTP_PORT"
}
