import type { Backend } from '../types'

export type SqlValue = string | number | null

export interface RunResult {
  /** Rows the statement changed. */
  changes: number
  /** The AUTO_INCREMENT / rowid of the row an INSERT added. */
  insertId: number
}

/** Runs statements. Both dialects take `?` placeholders, bound in order. */
export interface SqlExecutor {
  all<T> (sql: string, params?: readonly SqlValue[]): Promise<T[]>
  get<T> (sql: string, params?: readonly SqlValue[]): Promise<T | undefined>
  run (sql: string, params?: readonly SqlValue[]): Promise<RunResult>
}

/**
 * What SQLite and MySQL do differently, and nothing else: the stores in this folder are
 * written once against it. Each dialect lives in its own folder with its connection options.
 */
export interface SqlDialect extends SqlExecutor, Backend {
  readonly name: 'sqlite' | 'mysql'
  /** `fn`'s statements commit together or not at all; no other statement runs inside them. */
  transaction<T> (fn: (tx: SqlExecutor) => Promise<T>): Promise<T>
  /**
   * Runs `fn` on one connection holding the database-wide lock that keeps two instances
   * migrating at once apart.
   */
  exclusive<T> (fn: (db: SqlExecutor) => Promise<T>): Promise<T>
  /**
   * SQL that is true when `column` contains the next `?` parameter as a plain substring,
   * case-insensitively; the caller binds the needle already lower-cased. No pattern syntax.
   */
  contains (column: string): string
  /** An ISO 8601 UTC instant as this database stores it, and a stored one back as ISO 8601. */
  toDbTime (iso: string): string
  fromDbTime (stored: string): string
  /** Whether `err` is this driver's unique-index violation. */
  isUniqueViolation (err: unknown): boolean
}
