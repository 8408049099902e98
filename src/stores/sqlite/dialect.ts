import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { sqlSpan, traced, type Tracing } from '../../tracing'
import { tracedExecutor, type SearchPage, type SqlDialect, type SqlExecutor, type SqlValue } from '../sql/dialect'

interface SqliteOptions {
  /**
   * Ids a scan for a 1- or 2-character needle tests per step before it yields to the event
   * loop, and ids a deep offset skips per step (a sixteenth of it for search matches). Small:
   * a request waits for one step at each turn of the event loop it needs, so a step's length
   * is what a scan adds to everyone else's latency, while the scan's own time hardly depends
   * on it (docs/PERFORMANCE.md, "Scale"). Tests lower it to cross step boundaries.
   */
  scanChunkRows?: number
  /** Set only when OTEL_EXPORTER_OTLP_ENDPOINT is: a span per statement. */
  tracing?: Tracing | undefined
}

/** A needle of 3 or more characters, through the trigram index (searchBookIds). */
const FTS_SEARCH = `SELECT f.rowid AS id FROM book_search_fts f JOIN book_search s ON s.id = f.rowid
        WHERE book_search_fts MATCH ? AND f.rowid > ? AND (instr(s.title_lc, ?) > 0 OR instr(s.author_lc, ?) > 0)
        ORDER BY f.rowid LIMIT ? OFFSET ?`
/** A shorter needle: one step of the scan (searchBookIds). */
const SCAN_SEARCH = `SELECT id FROM book_search WHERE id > ? AND id <= ? AND (instr(title_lc, ?) > 0 OR instr(author_lc, ?) > 0)
      ORDER BY id LIMIT ?`

/** An FTS5 phrase: the needle as one quoted string, its quotes doubled; nothing else is syntax inside. */
const ftsPhrase = (needle: string): string => `"${needle.replaceAll('"', '""')}"`

/**
 * Switches the file to WAL. SQLite answers SQLITE_BUSY at once, without its busy handler, when
 * another process is switching the same new file at that moment (two instances starting
 * together: seen in 2 of 40 paired starts), so the wait the handler would give is given here.
 */
function enterWal (db: Database.Database, timeoutMs = 5000): void {
  const until = Date.now() + timeoutMs
  for (;;) {
    try {
      db.pragma('journal_mode = WAL')
      return
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= until) throw error
      // Start-up only, before the server listens: a short blocking pause costs no request.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
    }
  }
}

/**
 * The embedded database: one better-sqlite3 connection to a file (or `:memory:`), in WAL mode
 * with foreign keys on. better-sqlite3 is synchronous, so every statement runs to completion
 * on the event loop; the async surface is the dialect's, shared with MySQL.
 */
export function sqliteDialect (file: string, { scanChunkRows = 1024, tracing }: SqliteOptions = {}): SqlDialect {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('busy_timeout = 5000')
  enterWal(db)
  db.pragma('foreign_keys = ON')

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
  const direct: SqlExecutor = tracedExecutor({
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
  }, 'sqlite', tracing)

  // One connection serves every request, so while a transaction is open (its body awaits),
  // any other statement waits for it to end instead of running inside it.
  // Each wait loop and what follows it run in one synchronous step: a helper awaited in
  // between would let another waiter open its transaction first (two would then nest).
  let open: Promise<void> | undefined
  async function transaction<T> (fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    // Checked and taken with no await in between: two callers woken by the same end() must
    // not both see the connection free (awaiting idle() here left that gap).
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

  const ready = async (): Promise<void> => {
    while (open !== undefined) await open
  }

  /**
   * Moves a page's start past `offset` rows, `step` at a time, yielding between steps: `nth`
   * is the id of the row `n` rows past the first after an id (undefined when there are fewer).
   * Returns the `after` and `offset` left, less than a step, for the page's own query. As one
   * statement a deep OFFSET would hold the event loop for all of it, long enough at millions
   * of books for the event-loop shedding to answer 503 to every other request.
   */
  async function seek (after: number, offset: number, step: number, nth: (after: number, n: number) => number | undefined): Promise<{ after: number, offset: number }> {
    while (offset >= step) {
      await ready()
      const id = nth(after, step - 1)
      if (id === undefined) break
      after = id
      offset -= step
      await yieldToEventLoop()
    }
    return { after, offset }
  }

  /**
   * A needle of 3 or more characters (without NUL) is a phrase of trigrams: FTS5 answers it from the index,
   * in rowid (= id) order with the page applied inside the index. Shorter ones have no trigram:
   * they scan book_search's copies with the native instr() in id ranges of scanChunkRows,
   * yielding between steps, until the page is full or the ids run out. The steps are separate
   * reads, so a scan sees each range as of its own step (a write between steps can show).
   */
  async function searchBookIds (needle: string, { after, offset, limit }: SearchPage): Promise<number[]> {
    await ready()
    // FTS5's query parser reads a C string: a NUL would end it, so such needles scan instead.
    if ([...needle].length >= 3 && !needle.includes('\0')) {
      // Each candidate is verified with instr() on its copies (one primary-key row each): the
      // trigram tokenizer skips a NUL inside a text, so 'a\0bc' would otherwise match 'abc'.
      const fts = statement(FTS_SEARCH)
      const phrase = ftsPhrase(needle)
      // Each match skipped costs a verification: steps of fewer matches than of plain ids.
      const start = await seek(after, offset, Math.max(1, scanChunkRows >> 4),
        (from, n) => (fts.get(phrase, from, needle, needle, 1, n) as { id: number } | undefined)?.id)
      const rows = fts.all(phrase, start.after, needle, needle, limit, start.offset) as Array<{ id: number }>
      return rows.map((r) => r.id)
    }
    const last = (statement('SELECT max(id) AS id FROM book_search').get() as { id: number | null }).id ?? 0
    const scan = statement(SCAN_SEARCH)
    const ids: number[] = []
    let skip = offset
    for (let from = after; from < last && ids.length < limit;) {
      const to = Math.min(from + scanChunkRows, last)
      await ready()
      const rows = scan.all(from, to, needle, needle, skip + limit - ids.length) as Array<{ id: number }>
      for (const { id } of rows) {
        if (skip > 0) skip--
        else ids.push(id)
      }
      from = to
      if (from < last && ids.length < limit) await yieldToEventLoop()
    }
    return ids
  }

  // Read on this connection, so this app's own commits leave it as it is; one step, no parse.
  // It need not wait for an open transaction of ours: that holds the write lock, so nobody
  // else commits until it ends.
  const dataVersion = db.prepare('PRAGMA data_version').pluck()

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
    // instr() on the stored lower-cased copy: native, exact, no pattern syntax.
    contains: (column) => `instr(${column}, ?) > 0`,
    seekBooks: async (after, offset) => seek(after, offset, scanChunkRows,
      (from, n) => (statement('SELECT id FROM books WHERE id > ? ORDER BY id LIMIT 1 OFFSET ?').get(from, n) as { id: number } | undefined)?.id),
    // Its statements run on the connection directly (a scan's steps must not yield between
    // the wait and the read), so a search is traced as one span: its index query, or its scan.
    searchBookIds: traced(tracing, searchBookIds, (needle) =>
      sqlSpan('sqlite', [...needle].length >= 3 && !needle.includes('\0') ? FTS_SEARCH : SCAN_SEARCH), { client: true }),
    // book_search's triggers keep the FTS index in step, in the same transaction.
    async booksIndexed () {},
    // One writer holds the lock and AUTOINCREMENT hands out max + 1 per row, so a multi-row
    // INSERT's rows are consecutive and the last rowid is the last row's.
    async insertedIds (_tx, _table, { insertId }, count) {
      return Array.from({ length: count }, (_, i) => insertId - count + 1 + i)
    },
    // Stamps are stored as ISO 8601 text, as answered.
    toDbTime: (iso) => iso,
    fromDbTime: (stored) => stored,
    isUniqueViolation: (err) => err instanceof Database.SqliteError && err.code === 'SQLITE_CONSTRAINT_UNIQUE',
    // No other connection can open an in-memory database.
    ...(file === ':memory:' ? {} : { dataVersion: () => dataVersion.get() as number }),
    async ping () {
      statement('SELECT 1').get()
    },
    async close () {
      if (db.open) db.close()
    }
  }
}
