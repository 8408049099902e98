import { sqlSpan, traced, type Tracing } from '../../tracing'
import type { Backend } from '../types'

/** A bound parameter; a Buffer only for BLOB columns (a passkey's public key). */
export type SqlValue = string | number | null | Buffer

interface RunResult {
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
 * `exec` itself when tracing is off; else the same executor with a span per statement (named
 * and described by its text, never its bound values). Each dialect wraps the executor every
 * statement goes through (its pool's, a transaction's), so `get` over `all` is one span.
 */
export function tracedExecutor (exec: SqlExecutor, system: 'mysql' | 'sqlite', tracing: Tracing | undefined): SqlExecutor {
  if (tracing === undefined) return exec
  const describe = (sql: string): ReturnType<typeof sqlSpan> => sqlSpan(system, sql)
  const options = { client: true }
  return {
    all: traced(tracing, exec.all.bind(exec), describe, options) as SqlExecutor['all'],
    get: traced(tracing, exec.get.bind(exec), describe, options) as SqlExecutor['get'],
    run: traced(tracing, exec.run.bind(exec), describe, options)
  }
}

/** A book's searchable text, folded as the contract says (JavaScript's toLowerCase()). */
export interface SearchRow { id: number, title_lc: string, author_lc: string }

/** A bulk load's indexing (SqlDialect.bulkIndexing), used in this order. */
export interface BulkIndexing {
  /** In the load's transaction, in place of the dialect's booksIndexed. */
  booksIndexed (tx: SqlExecutor, rows: readonly SearchRow[]): Promise<void>
  /** Last in the load's transaction: its new books, ids `from`..`to`, are in book_search. */
  loaded (tx: SqlExecutor, from: number, to: number): Promise<void>
  /** Once the transaction has committed or rolled back: the index is whole and in use again. */
  done (): Promise<void>
}

/** Where a book search starts and how much it answers. */
export interface SearchPage { after: number, offset: number, limit: number }

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
   * SQL that is true when `column` (a lower-cased copy) contains the next `?` parameter as a
   * plain substring, compared exactly (the caller binds the needle already lower-cased). No
   * pattern syntax, no collation folding.
   */
  contains (column: string): string
  /**
   * The ids of books whose `book_search` title_lc or author_lc contains `needle` (already
   * lower-cased), ascending, greater than `after`, `offset` skipped, at most `limit`: answered
   * through this dialect's search index, never by a blocking scan of the whole table.
   */
  searchBookIds (needle: string, page: SearchPage): Promise<number[]>
  /**
   * Only where a statement runs on the event loop to its end (SQLite): the start of a plain
   * page that skips `offset` books after `after`, reached in bounded steps that yield between
   * them, as the `after` and `offset` left for the page's own query. Elsewhere OFFSET is one
   * statement, and waiting for it stalls no one else.
   */
  seekBooks? (after: number, offset: number): Promise<{ after: number, offset: number }>
  /**
   * Called by the book store inside its write transaction right after it inserted or replaced
   * these `book_search` rows: whatever index the dialect keeps beyond that table follows here.
   */
  booksIndexed (tx: SqlExecutor, rows: readonly SearchRow[]): Promise<void>
  /**
   * Only where building the dialect's index once over many rows is much cheaper than row by
   * row: how a bulk load of `count` books indexes them, or undefined to index as any write does.
   */
  bulkIndexing? (count: number): Promise<BulkIndexing | undefined>
  /**
   * The ids a multi-row `INSERT INTO table ... VALUES (...), (...)` of `count` rows gave, in
   * the order of its rows; rejects rather than guess when the database does not tell exactly.
   */
  insertedIds (tx: SqlExecutor, table: string, result: RunResult, count: number): Promise<number[]>
  /** An ISO 8601 UTC instant as this database stores it, and a stored one back as ISO 8601. */
  toDbTime (iso: string): string
  fromDbTime (stored: string): string
  /** Whether `err` is this driver's unique-index violation. */
  isUniqueViolation (err: unknown): boolean
  /**
   * Only where another process may write the same database unseen by the cache (SQLite on a
   * file): a number that changes whenever another connection has committed to the database,
   * and not for this connection's own commits. Cheap enough to ask before every cached read.
   */
  dataVersion? (): number
}
