# Redis, sourced by scripts/services.sh (its helpers: log, die, as_root, apt_install,
# tail_log, port_open, STATE_DIR, WAIT_SECONDS, DB_NAME). Debian's redis-server on 127.0.0.1:6379, no
# persistence.
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

export_redis() {
  echo "export REDIS_URL=redis://127.0.0.1:6379/0"
}
