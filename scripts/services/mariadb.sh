# MariaDB, sourced by scripts/services.sh (its helpers: log, die, as_root, apt_install,
# tail_log, port_open, STATE_DIR, WAIT_SECONDS, DB_NAME). Debian's mariadb-server on 127.0.0.1:3306;
# user bookstore:bookstore may use $DB_NAME and any bookstore_test* database.
DB_USER=bookstore
DB_PASS=bookstore

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

export_mariadb() {
  echo "export DATABASE_URL=mysql://$DB_USER:$DB_PASS@127.0.0.1:3306/$DB_NAME"
}
