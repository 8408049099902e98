import type { SqlDialect } from './dialect'

/**
 * Versioned schema changes, one entry per version, for each SQL dialect. Applied in order at
 * start-up (and so by `npm run migrate`) by ./migrate.ts; `schema_migrations` records what
 * ran. Never edit a released entry: add the next version.
 */
export type Migration = { version: number, name: string } & Record<SqlDialect['name'], string[]>

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
  // Version 3 is taken by the search index work; the runner applies whatever is missing, in order.
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
  }
]
