import type { SqlDialect, SqlExecutor } from './dialect'

/**
 * Versioned schema changes, one entry per version, for each SQL dialect. Applied in order at
 * start-up (and so by `npm run migrate`) by ./migrate.ts; `schema_migrations` records what
 * ran. Never edit a released entry: add the next version. Each entry is self-contained (its
 * own SQL, no store code), so a later change to a store never changes what an old version does.
 */
type Migration = { version: number, name: string } & Record<SqlDialect['name'], string[]> & {
  /**
   * Runs after the version's statements, before it is recorded, on the migrating connection:
   * for data only JavaScript can compute (the contract's folding is toLowerCase(), which no
   * SQL LOWER() matches exactly).
   */
  backfill?: (conn: SqlExecutor, db: SqlDialect) => Promise<void>
}

/** Rows a backfill reads and writes at a time. */
const BACKFILL_ROWS = 500

/** Fills `book_search` (and the dialect's index) for every book, and the review copies. */
async function backfillFolding (conn: SqlExecutor, db: SqlDialect): Promise<void> {
  for (let after = 0; ;) {
    const books = await conn.all<{ id: number, title: string, author: string }>(
      'SELECT id, title, author FROM books WHERE id > ? ORDER BY id LIMIT ?', [after, BACKFILL_ROWS])
    if (books.length === 0) break
    const rows = books.map((b) => ({ id: Number(b.id), title_lc: b.title.toLowerCase(), author_lc: b.author.toLowerCase() }))
    await conn.run(`INSERT INTO book_search (id, title_lc, author_lc) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`,
      rows.flatMap((r) => [r.id, r.title_lc, r.author_lc]))
    await db.booksIndexed(conn, rows)
    after = Number(books[books.length - 1]?.id)
  }
  for (let after = ''; ;) {
    const reviews = await conn.all<{ id: string, title: string, content: string }>(
      'SELECT id, title, content FROM reviews WHERE id > ? ORDER BY id LIMIT ?', [after, BACKFILL_ROWS])
    if (reviews.length === 0) break
    for (const r of reviews) {
      await conn.run('UPDATE reviews SET title_lc = ?, content_lc = ? WHERE id = ?', [r.title.toLowerCase(), r.content.toLowerCase(), r.id])
    }
    after = reviews[reviews.length - 1]?.id ?? ''
  }
}

/** Ids a backfill of book_fts copies per statement. */
const FTS_BACKFILL_IDS = 100_000

/**
 * Copies book_search's rows with ids `from`..`to` into book_fts (title, newline, author; NUL
 * written as U+FFFD, as the dialect writes it: Groonga would end the text there), in
 * statements of FTS_BACKFILL_IDS ids. On `conn`, so a transaction copies its own new rows. A
 * row already there is kept: only another writer's book has one, written with its own text.
 */
export async function copyIntoFts (conn: SqlExecutor, from: number, to: number): Promise<void> {
  for (let first = from; first <= to; first += FTS_BACKFILL_IDS) {
    await conn.run(`INSERT INTO book_fts (id, txt) SELECT id,
      REPLACE(CONCAT(CONVERT(title_lc USING utf8mb4), '\\n', CONVERT(author_lc USING utf8mb4)), CHAR(0 USING utf8mb4), _utf8mb4 0xEFBFBD)
      FROM book_search WHERE id BETWEEN ? AND ? ON DUPLICATE KEY UPDATE txt = txt`, [first, Math.min(to, first + FTS_BACKFILL_IDS - 1)])
  }
}

/**
 * MySQL/MariaDB only, and only where the server has the Mroonga engine and is not a Galera
 * node (Galera replicates InnoDB only: another node's index would miss books): `book_fts`, a
 * trigram index over book_search's copies (title, newline, author), filled from it. No
 * normalizer: the copies are the contract's folding already, and NFKC would not keep a
 * substring a substring (e + U+0307 composes to ė). Elsewhere nothing is made, and the book
 * search stays the block pass (src/stores/mysql/dialect.ts). The index is added after the
 * copy: Groonga builds it over rows already there about four times faster than row by row.
 */
async function mroongaIndex (conn: SqlExecutor, db: SqlDialect): Promise<void> {
  if (db.name !== 'mysql') return
  const engine = await conn.get<{ n: number }>(`SELECT COUNT(*) AS n FROM information_schema.ENGINES
    WHERE ENGINE = 'Mroonga' AND SUPPORT IN ('YES', 'DEFAULT')`)
  if (Number(engine?.n) === 0) return
  const wsrep = await conn.all<{ Value: string }>("SHOW VARIABLES LIKE 'wsrep_on'")
  if (wsrep[0]?.Value === 'ON') return
  await conn.run(`CREATE TABLE book_fts (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    txt MEDIUMTEXT NOT NULL
  ) ENGINE=Mroonga DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`)
  const last = Number((await conn.get<{ last: number | null }>('SELECT MAX(id) AS last FROM book_search'))?.last ?? 0)
  await copyIntoFts(conn, 0, last)
  await conn.run(`ALTER TABLE book_fts ADD FULLTEXT INDEX book_fts_txt (txt) COMMENT 'tokenizer "TokenTrigram", normalizer "none"'`)
}

/** The table that records the versions applied, in each dialect. */
export const MIGRATIONS_TABLE: Record<SqlDialect['name'], string> = {
  sqlite: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`,
  mysql: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at DATETIME(3) NOT NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'users, books and reviews',
    sqlite: [
      `CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        permission INTEGER NOT NULL DEFAULT 1 CHECK (permission BETWEEN 0 AND 3),
        created_at TEXT NOT NULL
      )`,
      // Emails are stored trimmed and lower-cased, so this index is on the normalised form.
      'CREATE UNIQUE INDEX users_email_unique ON users (email)',
      `CREATE TABLE books (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        title TEXT NOT NULL,
        author TEXT NOT NULL,
        published_at TEXT,
        description TEXT,
        isbn TEXT,
        total_pages INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      `CREATE TABLE reviews (
        id TEXT PRIMARY KEY,
        book_id INTEGER NOT NULL REFERENCES books (id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        author TEXT NOT NULL,
        title TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`,
      'CREATE INDEX reviews_book_newest ON reviews (book_id, created_at DESC, id DESC)',
      'CREATE INDEX reviews_user ON reviews (user_id)'
    ],
    mysql: [
      `CREATE TABLE users (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        email VARCHAR(254) NOT NULL,
        password_hash VARCHAR(255) NOT NULL,
        permission TINYINT UNSIGNED NOT NULL DEFAULT 1,
        created_at DATETIME(3) NOT NULL,
        UNIQUE KEY users_email_unique (email)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE books (
        id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        title VARCHAR(255) NOT NULL,
        author VARCHAR(255) NOT NULL,
        published_at DATE NULL,
        description TEXT NULL,
        isbn VARCHAR(17) NULL,
        total_pages INT UNSIGNED NULL,
        created_at DATETIME(3) NOT NULL,
        updated_at DATETIME(3) NOT NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE reviews (
        id CHAR(24) CHARACTER SET ascii NOT NULL PRIMARY KEY,
        book_id INT UNSIGNED NOT NULL,
        user_id INT UNSIGNED NOT NULL,
        author VARCHAR(255) NOT NULL,
        title VARCHAR(255) NOT NULL,
        content TEXT NOT NULL,
        created_at DATETIME(3) NOT NULL,
        updated_at DATETIME(3) NOT NULL,
        KEY reviews_book_newest (book_id, created_at, id),
        KEY reviews_user (user_id),
        CONSTRAINT reviews_book_fk FOREIGN KEY (book_id) REFERENCES books (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
    ]
  },
  {
    version: 2,
    name: 'permission range checked on MySQL too',
    // SQLite's users table has had this CHECK since version 1. The range is
    // src/domain/permission.ts's; a new level needs a new version here.
    sqlite: [],
    mysql: ['ALTER TABLE users ADD CONSTRAINT users_permission_range CHECK (permission BETWEEN 0 AND 3)']
  },
  {
    version: 3,
    name: 'versions for conditional writes; lower-cased copies and a search index for q',
    // `version` backs If-Match: every update adds one, a conditional write tests it in its own
    // WHERE. `book_search` holds the contract's folding (JavaScript's toLowerCase(), written
    // by the store in the same transaction as the book) for both dialects; each adds its index:
    //  - SQLite: an external-content FTS5 trigram index over it (case_sensitive 1, so the only
    //    folding is the store's), kept in step by triggers on book_search.
    //  - MySQL/MariaDB: the same copies as VARBINARY, compared byte for byte (UTF-8 bytes: a
    //    byte substring is a character substring), and `book_blocks`, see src/stores/mysql/dialect.ts.
    // Reviews get their copies in place: a book's reviews are searched through its index.
    sqlite: [
      'ALTER TABLE books ADD COLUMN version INTEGER NOT NULL DEFAULT 1',
      'ALTER TABLE reviews ADD COLUMN version INTEGER NOT NULL DEFAULT 1',
      "ALTER TABLE reviews ADD COLUMN title_lc TEXT NOT NULL DEFAULT ''",
      "ALTER TABLE reviews ADD COLUMN content_lc TEXT NOT NULL DEFAULT ''",
      'CREATE TABLE book_search (id INTEGER PRIMARY KEY, title_lc TEXT NOT NULL, author_lc TEXT NOT NULL)',
      `CREATE VIRTUAL TABLE book_search_fts USING fts5(title_lc, author_lc, content='book_search', content_rowid='id',
        tokenize='trigram case_sensitive 1 remove_diacritics 0')`,
      `CREATE TRIGGER book_search_ai AFTER INSERT ON book_search BEGIN
        INSERT INTO book_search_fts (rowid, title_lc, author_lc) VALUES (new.id, new.title_lc, new.author_lc);
      END`,
      `CREATE TRIGGER book_search_ad AFTER DELETE ON book_search BEGIN
        INSERT INTO book_search_fts (book_search_fts, rowid, title_lc, author_lc) VALUES ('delete', old.id, old.title_lc, old.author_lc);
      END`,
      `CREATE TRIGGER book_search_au AFTER UPDATE ON book_search BEGIN
        INSERT INTO book_search_fts (book_search_fts, rowid, title_lc, author_lc) VALUES ('delete', old.id, old.title_lc, old.author_lc);
        INSERT INTO book_search_fts (rowid, title_lc, author_lc) VALUES (new.id, new.title_lc, new.author_lc);
      END`
    ],
    mysql: [
      'ALTER TABLE books ADD COLUMN version INT UNSIGNED NOT NULL DEFAULT 1',
      `ALTER TABLE reviews ADD COLUMN version INT UNSIGNED NOT NULL DEFAULT 1,
        ADD COLUMN title_lc VARBINARY(1020) NOT NULL DEFAULT '', ADD COLUMN content_lc MEDIUMBLOB NULL`,
      // 255 characters lower-cased stay within 1020 UTF-8 bytes (4 bytes at most each; the one
      // mapping that lengthens, İ to i̇, goes from 2 bytes to 3).
      `CREATE TABLE book_search (
        id INT UNSIGNED NOT NULL PRIMARY KEY,
        title_lc VARBINARY(1020) NOT NULL,
        author_lc VARBINARY(1020) NOT NULL
      ) ENGINE=InnoDB`,
      `CREATE TABLE book_blocks (
        block INT UNSIGNED NOT NULL PRIMARY KEY,
        txt MEDIUMBLOB NOT NULL
      ) ENGINE=InnoDB`
    ],
    backfill: backfillFolding
  },
  {
    version: 4,
    name: 'sessions and their refresh tokens',
    sqlite: [
      `CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        last_used_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        ended_at TEXT
      )`,
      'CREATE INDEX sessions_user ON sessions (user_id, created_at)',
      // Only a SHA-256 of each refresh token; a spent one stays, so presenting it again is seen.
      `CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        spent_at TEXT
      )`,
      'CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)',
      // The last-Admin guard locks and counts the Admin rows; this keeps that to those rows.
      'CREATE INDEX users_permission ON users (permission)'
    ],
    mysql: [
      `CREATE TABLE sessions (
        id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        user_id INT UNSIGNED NOT NULL,
        created_at DATETIME(3) NOT NULL,
        last_used_at DATETIME(3) NOT NULL,
        expires_at DATETIME(3) NOT NULL,
        ended_at DATETIME(3) NULL,
        KEY sessions_user (user_id, created_at),
        CONSTRAINT sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE refresh_tokens (
        token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        session_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        created_at DATETIME(3) NOT NULL,
        spent_at DATETIME(3) NULL,
        KEY refresh_tokens_session (session_id),
        CONSTRAINT refresh_tokens_session_fk FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      // Without it the guard's locking UPDATE scans, and so locks, every user row.
      'CREATE INDEX users_permission ON users (permission)'
    ]
  },
  {
    version: 5,
    name: 'verified addresses, account tokens, the mail outbox and the audit log',
    // account_tokens: only a SHA-256 of each verification or reset token; `email` is the
    // address a verification token proves (the current one, or the new one of an email
    // change). Superseded and used tokens keep their row until they expire: the per-user
    // mail limits count them. outbox: a message waits here (recipient and body, token
    // included) only until it is sent; its user's deletion drops it (the foreign key).
    // audit_events: append-only, ids handed out by audit_head, whose one row every appender
    // locks: the chain's order is the ids' order, never two events on one predecessor.
    // No foreign key on the audit's user ids: events outlive the account they are about.
    sqlite: [
      'ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0',
      `CREATE TABLE account_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        email TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
      )`,
      'CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose, created_at)',
      `CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        text_body TEXT NOT NULL,
        html_body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        claimed_until TEXT,
        last_error TEXT
      )`,
      'CREATE INDEX outbox_due ON outbox (next_attempt_at)',
      'CREATE INDEX outbox_user ON outbox (user_id)',
      `CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        user_id INTEGER,
        actor_id INTEGER,
        ip TEXT NOT NULL,
        request_id TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      'CREATE INDEX audit_events_user ON audit_events (user_id, id)',
      'CREATE INDEX audit_events_type ON audit_events (type, id)',
      'CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), last_id INTEGER NOT NULL, last_hash TEXT NOT NULL)',
      "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '')"
    ],
    mysql: [
      'ALTER TABLE users ADD COLUMN email_verified TINYINT(1) NOT NULL DEFAULT 0',
      `CREATE TABLE account_tokens (
        token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        user_id INT UNSIGNED NOT NULL,
        purpose VARCHAR(32) CHARACTER SET ascii NOT NULL,
        email VARCHAR(254) NULL,
        created_at DATETIME(3) NOT NULL,
        expires_at DATETIME(3) NOT NULL,
        used_at DATETIME(3) NULL,
        KEY account_tokens_user (user_id, purpose, created_at),
        CONSTRAINT account_tokens_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE outbox (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        user_id INT UNSIGNED NULL,
        recipient VARCHAR(254) NOT NULL,
        subject VARCHAR(255) NOT NULL,
        text_body MEDIUMTEXT NOT NULL,
        html_body MEDIUMTEXT NOT NULL,
        created_at DATETIME(3) NOT NULL,
        attempts INT UNSIGNED NOT NULL DEFAULT 0,
        next_attempt_at DATETIME(3) NOT NULL,
        claimed_until DATETIME(3) NULL,
        last_error VARCHAR(255) NULL,
        KEY outbox_due (next_attempt_at),
        KEY outbox_user (user_id),
        CONSTRAINT outbox_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE audit_events (
        id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
        type VARCHAR(64) CHARACTER SET ascii NOT NULL,
        at DATETIME(3) NOT NULL,
        user_id INT UNSIGNED NULL,
        actor_id INT UNSIGNED NULL,
        ip VARCHAR(64) NOT NULL,
        request_id VARCHAR(255) NOT NULL,
        details TEXT NOT NULL,
        prev_hash CHAR(64) CHARACTER SET ascii NOT NULL,
        hash CHAR(64) CHARACTER SET ascii NOT NULL,
        KEY audit_events_user (user_id, id),
        KEY audit_events_type (type, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE audit_head (
        id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
        last_id BIGINT UNSIGNED NOT NULL,
        last_hash CHAR(64) CHARACTER SET ascii NOT NULL
      ) ENGINE=InnoDB`,
      "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, '')"
    ]
  },
  {
    version: 6,
    name: 'second factors and API keys',
    // user_totp: one row per user with a secret, pending until confirmed; last_step is the
    // newest time step accepted, so a code is refused after its first use on every instance.
    // The secret is kept as it is: a TOTP check needs it (the contract asks hashes of tokens,
    // keys and recovery codes, which are checked by comparing digests).
    // recovery_codes: SHA-256 digests; a used one keeps its row (used_at) until TOTP is off.
    // passkeys: credential_id is the authenticator's id (base64url), public_key its COSE key.
    // webauthn_challenges: a digest of each challenge, spent by one conditional UPDATE, so a
    // challenge is single use across instances. api_keys: only a SHA-256 of the key.
    // Everything an account owns goes with it (foreign keys), challenges without a user too
    // when they expire (src/services/passkeys.ts sweeps).
    sqlite: [
      `CREATE TABLE user_totp (
        user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        secret TEXT NOT NULL,
        enabled_at TEXT,
        last_step INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      )`,
      `CREATE TABLE recovery_codes (
        code_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        used_at TEXT
      )`,
      'CREATE INDEX recovery_codes_user ON recovery_codes (user_id)',
      `CREATE TABLE passkeys (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        credential_id TEXT NOT NULL,
        public_key BLOB NOT NULL,
        counter INTEGER NOT NULL DEFAULT 0,
        transports TEXT NOT NULL DEFAULT '[]',
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT
      )`,
      'CREATE UNIQUE INDEX passkeys_credential ON passkeys (credential_id)',
      'CREATE INDEX passkeys_user ON passkeys (user_id, created_at)',
      `CREATE TABLE webauthn_challenges (
        challenge_hash TEXT PRIMARY KEY,
        user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
        purpose TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
      )`,
      'CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at)',
      `CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        key_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        permission INTEGER NOT NULL CHECK (permission BETWEEN 1 AND 3),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
      )`,
      'CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash)',
      'CREATE INDEX api_keys_user ON api_keys (user_id, created_at)'
    ],
    mysql: [
      `CREATE TABLE user_totp (
        user_id INT UNSIGNED NOT NULL PRIMARY KEY,
        secret VARCHAR(128) CHARACTER SET ascii NOT NULL,
        enabled_at DATETIME(3) NULL,
        last_step BIGINT UNSIGNED NOT NULL DEFAULT 0,
        created_at DATETIME(3) NOT NULL,
        CONSTRAINT user_totp_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE recovery_codes (
        code_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        user_id INT UNSIGNED NOT NULL,
        used_at DATETIME(3) NULL,
        KEY recovery_codes_user (user_id),
        CONSTRAINT recovery_codes_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE passkeys (
        id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        user_id INT UNSIGNED NOT NULL,
        credential_id VARCHAR(1400) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        public_key BLOB NOT NULL,
        counter BIGINT UNSIGNED NOT NULL DEFAULT 0,
        transports VARCHAR(255) CHARACTER SET ascii NOT NULL DEFAULT '[]',
        name VARCHAR(400) NOT NULL,
        created_at DATETIME(3) NOT NULL,
        last_used_at DATETIME(3) NULL,
        UNIQUE KEY passkeys_credential (credential_id(255)),
        KEY passkeys_user (user_id, created_at),
        CONSTRAINT passkeys_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE webauthn_challenges (
        challenge_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        user_id INT UNSIGNED NULL,
        purpose VARCHAR(32) CHARACTER SET ascii NOT NULL,
        expires_at DATETIME(3) NOT NULL,
        used_at DATETIME(3) NULL,
        KEY webauthn_challenges_expiry (expires_at),
        CONSTRAINT webauthn_challenges_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE api_keys (
        id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
        user_id INT UNSIGNED NOT NULL,
        key_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        name VARCHAR(400) NOT NULL,
        permission TINYINT UNSIGNED NOT NULL,
        created_at DATETIME(3) NOT NULL,
        expires_at DATETIME(3) NOT NULL,
        last_used_at DATETIME(3) NULL,
        revoked_at DATETIME(3) NULL,
        UNIQUE KEY api_keys_hash (key_hash),
        KEY api_keys_user (user_id, created_at),
        CONSTRAINT api_keys_permission_range CHECK (permission BETWEEN 1 AND 3),
        CONSTRAINT api_keys_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
    ]
  },
  {
    version: 7,
    name: 'a counter the last-Admin guard and users.lock write to lock user rows',
    // src/stores/sql/users.ts's lockRows must really change each row it locks (Galera
    // certifies only real changes); it used to flip email_verified twice, a column users see.
    // 64 bits, so counting up one per lock never runs out.
    sqlite: ['ALTER TABLE users ADD COLUMN lock_seq INTEGER NOT NULL DEFAULT 0'],
    mysql: ['ALTER TABLE users ADD COLUMN lock_seq BIGINT UNSIGNED NOT NULL DEFAULT 0']
  },
  {
    version: 8,
    name: 'a trigram index for book search where MariaDB has Mroonga',
    sqlite: [],
    mysql: [],
    backfill: mroongaIndex
  }
]
