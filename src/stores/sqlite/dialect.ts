import { mkdirSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { SqlDialect, SqlExecutor, SqlValue } from '../sql/dialect'

/**
 * The embedded database: one better-sqlite3 connection to a file (or `:memory:`), in WAL mode
 * with foreign keys on. better-sqlite3 is synchronous, so every statement runs to completion
 * on the event loop; the async surface is the dialect's, shared with MySQL.
 */
export function openSqlite (file: string): SqlDialect {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  // A Unicode-aware, pattern-free substring test: user input is never a LIKE pattern here.
  db.function('icontains', { deterministic: true }, (haystack: unknown, needle: unknown) =>
    typeof haystack === 'string' && typeof needle === 'string' && haystack.toLowerCase().includes(needle) ? 1 : 0)

  // Preparing is the expensive part of a statement; the stores use a few fixed texts.
  const prepared = new Map<string, Database.Statement>()
  const statement = (sql: string): Database.Statement => {
    let stmt = prepared.get(sql)
    if (stmt === undefined) {
      stmt = db.prepare(sql)
      prepared.set(sql, stmt)
    }
    return stmt
  }
  const direct: SqlExecutor = {
    async all<T> (sql: string, params: readonly SqlValue[] = []) {
      return statement(sql).all(...params) as T[]
    },
    async get<T> (sql: string, params: readonly SqlValue[] = []) {
      return statement(sql).get(...params) as T | undefined
    },
    async run (sql: string, params: readonly SqlValue[] = []) {
      const { changes, lastInsertRowid } = statement(sql).run(...params)
      return { changes, insertId: Number(lastInsertRowid) }
    }
  }

  // One connection serves every request, so while a transaction is open (its body awaits),
  // any other statement waits for it to end instead of running inside it.
  // Each wait loop and what follows it run in one synchronous step: a helper awaited in
  // between would let another waiter open its transaction first (two would then nest).
  let open: Promise<void> | undefined
  async function transaction<T> (fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    while (open !== undefined) await open
    let end = (): void => {}
    open = new Promise((resolve) => { end = resolve })
    try {
      // IMMEDIATE takes the write lock at once, so a second process on the file waits here.
      db.exec('BEGIN IMMEDIATE')
      const result = await fn(direct)
      db.exec('COMMIT')
      return result
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK')
      throw err
    } finally {
      open = undefined
      end()
    }
  }

  return {
    name: 'sqlite',
    async all<T> (sql: string, params?: readonly SqlValue[]) {
      while (open !== undefined) await open
      return direct.all<T>(sql, params)
    },
    async get<T> (sql: string, params?: readonly SqlValue[]) {
      while (open !== undefined) await open
      return direct.get<T>(sql, params)
    },
    async run (sql, params) {
      while (open !== undefined) await open
      return direct.run(sql, params)
    },
    transaction,
    // SQLite's lock is the file's write lock, and its DDL is transactional: one IMMEDIATE
    // transaction both keeps a second process out and makes the migrations atomic.
    exclusive: transaction,
    contains: (column) => `icontains(${column}, ?)`,
    // Stamps are stored as ISO 8601 text, as answered.
    toDbTime: (iso) => iso,
    fromDbTime: (stored) => stored,
    isUniqueViolation: (err) => err instanceof Database.SqliteError && err.code === 'SQLITE_CONSTRAINT_UNIQUE',
    async ping () {
      statement('SELECT 1').get()
    },
    async close () {
      if (db.open) db.close()
    }
  }
}
