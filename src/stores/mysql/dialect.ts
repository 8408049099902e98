import { randomUUID } from 'node:crypto'
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { copyIntoFts } from '../sql/migrations'
import { tracedExecutor, type BulkIndexing, type SearchPage, type SearchRow, type SqlDialect, type SqlExecutor, type SqlValue } from '../sql/dialect'
import type { Tracing } from '../../tracing'

/** Options every pool gets: UTC, dates as strings, fail fast rather than queue for ever. */
export const MYSQL_POOL_OPTIONS = {
  timezone: 'Z',
  dateStrings: true,
  connectTimeout: 1000,
  connectionLimit: 10,
  queueLimit: 100,
  waitForConnections: true,
  enableKeepAlive: true,
  supportBigNumbers: true,
  charset: 'utf8mb4_unicode_ci'
} as const

/** A query may not hold a pooled connection longer than this, even on a frozen server. */
const QUERY_TIMEOUT_MS = 5000

/**
 * Tries of a transaction (or a statement outside one) rolled back with ER_LOCK_DEADLOCK:
 * InnoDB's deadlock victim, or on Galera / Group Replication the loser of a certification
 * conflict with a write committed on another node. Conflicting writers on several nodes can
 * lose a few times in a row, so each retry waits a little longer, with jitter so they part.
 */
const DEADLOCK_ATTEMPTS = 8
const DEADLOCK_BACKOFF_MS = 5

const isDeadlock = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 'ER_LOCK_DEADLOCK'
const backoff = async (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, DEADLOCK_BACKOFF_MS * 2 ** Math.min(attempt, 6) * Math.random()))

/** Runs `fn` again while it fails with ER_LOCK_DEADLOCK, DEADLOCK_ATTEMPTS times at most. */
async function retryingDeadlocks<T> (fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt >= DEADLOCK_ATTEMPTS || !isDeadlock(err)) throw err
      await backoff(attempt)
    }
  }
}

/** How long a starting instance waits for another one's migrations. */
const LOCK_TIMEOUT_S = 30
/**
 * The migration lock's lease: renewed every third of it while held, so a holder that died
 * (its renewals stop) hands the lock on after this long.
 */
const LOCK_LEASE_S = 15
/** How often a starting instance asks again whether the migration lock is free. */
const LOCK_POLL_MS = 200

/**
 * The book search. MariaDB has no n-gram FULLTEXT parser, and a scan of book_search's narrow
 * VARBINARY copies with LOCATE pays InnoDB's cost per row, not LOCATE's, for every book. So
 * the copies are also packed into `book_blocks`: one row per BLOCK_IDS consecutive ids, holding
 * their copies joined by newlines. A LOCATE over those blobs is a memmem-like pass over few
 * rows (docs/PERFORMANCE.md has the figures), and finds the blocks that may hold a match; only those blocks' rows are then
 * verified in book_search, in id order with the page applied. It is plain SQL (binary LOCATE,
 * primary-key ranges), so MySQL 8 runs it alike.
 *
 * A block is a superset, never exact: a write appends the book's new copies, a delete removes
 * nothing, and a needle spanning two books' texts hits too; the verification in book_search
 * decides. A block that grows past MAX_BLOCK_BYTES through updates is rebuilt from book_search.
 *
 * The pass is linear in the catalogue's text. Where the server has Mroonga (a MariaDB plugin),
 * migration 8 adds `book_fts`, a trigram index over the same copies, and the search becomes:
 * the first HEAD_BLOCKS blocks by LOCATE (a needle common enough to fill a page there is
 * answered without the index, which would pay for every posting of its trigrams), then the
 * index for the rest, in id order, its candidates verified in book_search as the blocks' are;
 * an index query past its time budget (trigrams common everywhere, a match rare) hands over to
 * the block pass from where it stopped. book_blocks is written either way, so the fallback is
 * always complete.
 */
const BLOCK_IDS = 1024
const MAX_BLOCK_BYTES = 1 << 20
/** Candidate blocks fetched per round: a common needle needs only the first few. */
const BLOCKS_PER_ROUND = 32
/** Slices of the block range scanned at once (each on its own pooled connection). */
const SCAN_PARTS = 4
/** How often the highest block is looked up again, to balance the slices. */
const LAST_BLOCK_REFRESH_MS = 10_000
/** Blocks scanned by LOCATE before the index is asked (see above). */
const HEAD_BLOCKS = 16
/** An index query's time budget, in seconds (MariaDB's max_statement_time); past it, blocks. */
const FTS_BUDGET_S = 0.1
/** Index candidates fetched beyond those a page still needs: a few stale ones get verified away. */
const FTS_SLACK = 16
/**
 * A book's index text keeps its last this many characters: writes append (the index is not
 * transactional, so a rolled-back update must not have removed the committed text), and this
 * still holds the last eight versions of a book (each at most ~1,022 characters lower-cased).
 */
const FTS_MAX_CHARS = 8192
/** Below this many books a bulk load indexes row by row (see bulkIndexing). */
const BULK_INDEX_MIN = 50_000

type Queryable = Pick<Pool, 'query'> | PoolConnection

/**
 * Statements on `db`. On the pool, each statement is its own (autocommit) transaction, rolled
 * back whole when it fails, so one that lost a deadlock or a certification conflict is run
 * again (a Galera server retries it only wsrep_retry_autocommit times, once by default). On a
 * transaction's connection a failed statement is not retried alone: the whole transaction is.
 */
function executor (db: Queryable, { timeout = QUERY_TIMEOUT_MS, retry = (fn) => fn() }: { timeout?: number, retry?: <T>(fn: () => Promise<T>) => Promise<T> } = {}): SqlExecutor {
  const all = async <T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> => {
    const [rows] = await retry(() => db.query<RowDataPacket[]>({ sql, timeout }, [...params]))
    return rows as T[]
  }
  return {
    all,
    async get<T> (sql: string, params?: readonly SqlValue[]) {
      return (await all<T>(sql, params))[0]
    },
    async run (sql, params = []) {
      const [result] = await retry(() => db.query<ResultSetHeader>({ sql, timeout }, [...params]))
      return { changes: result.affectedRows, insertId: result.insertId }
    }
  }
}

export interface MysqlOptions {
  /** Ids per book_blocks row; every process on one database must use the same (tests lower it). */
  blockIds?: number
  /** Slices of the candidate scan run at once (bench/scale.ts compares 1 with the default). */
  scanParts?: number
  /** Set only when OTEL_EXPORTER_OTLP_ENDPOINT is: a span per statement. */
  tracing?: Tracing | undefined
  /** A read replica's reads give up sooner than this, and free their connection (src/stores/mysql/replicas.ts). */
  queryTimeoutMs?: number
  /**
   * 'auto': the Mroonga index when the database has one (looked up once, after migrations),
   * else the block pass; 'blocks': the block pass always (tests and the bench compare both).
   * Writes keep every index the database has, whichever is read.
   */
  search?: 'auto' | 'blocks'
  /** The index query's time budget in seconds before the block pass takes over (tests shrink it). */
  indexBudgetS?: number
  /** The fewest books a bulk load must bring to build the Mroonga index once, at its end (tests lower it). */
  bulkIndexMin?: number
}

/**
 * Groonga reads text and query as C strings, so a NUL ends either early (a book's text after
 * it went unindexed). The index sees NUL as U+FFFD in both: the same character for character
 * map on text and needle keeps every substring a substring; verification is on the real text.
 */
const unNul = (text: string): string => text.replaceAll('\u0000', '\uFFFD')
/** A needle as one Groonga phrase: inside quotes only the quote and the backslash are special. */
const phrase = (needle: string): string => `"${unNul(needle).replace(/["\\]/g, '\\$&')}"`
/** The index's text for a book: both copies, as book_blocks joins them. */
const ftsText = (r: SearchRow): string => unNul(`${r.title_lc}\n${r.author_lc}`)

/**
 * Why an index query did not answer and the block pass takes over: MariaDB's
 * ER_STATEMENT_TIMEOUT (max_statement_time; mysql2 names the number after MySQL's own list),
 * or ER_FT_MATCHING_KEY_NOT_FOUND while a bulk load has the index switched off.
 */
const indexDidNotAnswer = (err: unknown): boolean => [1969, 1191].includes(Number((err as { errno?: unknown } | null)?.errno))

/** A page being filled: `skip` matches still to pass over, then ids until `limit`. */
interface Collected { ids: number[], skip: number, limit: number }
const isFull = (c: Collected): boolean => c.ids.length >= c.limit
function collect (c: Collected, rows: ReadonlyArray<{ id: number }>): void {
  for (const { id } of rows) {
    if (c.skip > 0) c.skip--
    else if (!isFull(c)) c.ids.push(Number(id))
  }
}

/** MySQL (and MariaDB) over the pool @fastify/mysql owns. */
export function mysqlDialect (pool: Pool, { blockIds = BLOCK_IDS, scanParts = SCAN_PARTS, tracing, queryTimeoutMs = QUERY_TIMEOUT_MS, search = 'auto', indexBudgetS = FTS_BUDGET_S, bulkIndexMin = BULK_INDEX_MIN }: MysqlOptions = {}): SqlDialect {
  async function onOwnConnection<T> (fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await pool.getConnection()
    try {
      return await fn(conn)
    } finally {
      conn.release()
    }
  }

  // On Galera, a commit returns once the cluster has certified it; another node applies it a
  // moment later. A read there in that moment would miss a write already acknowledged (and
  // could put the old row into the shared cache). wsrep_sync_wait=1 makes each read on a
  // connection wait until its node has applied every write committed before it began. Set
  // once per connection, when the pool first hands it out: the pool emits 'acquire' before it
  // gives a connection to its caller, and a connection runs its statements in the order they
  // were queued, so this one runs before the caller's first. 'acquire', not 'connection': a
  // pool may have opened connections before this dialect was made (@fastify/mysql's start-up
  // check does), and a read on one of those would be the stale read above. On servers without
  // Galera (MySQL, a MariaDB without wsrep) it fails or does nothing, and is ignored.
  const syncWaiting = new WeakSet<object>()
  pool.pool.on('acquire', (conn) => {
    if (syncWaiting.has(conn)) return
    syncWaiting.add(conn)
    conn.query('SET SESSION wsrep_sync_wait = 1', () => undefined)
  })

  const db = tracedExecutor(executor(pool, { timeout: queryTimeoutMs, retry: retryingDeadlocks }), 'mysql', tracing)
  let step: number | undefined

  /** The highest block, as last looked up: it only balances the slices (the last is open-ended). */
  let lastBlock = { value: -1, at: 0 }
  async function lastBlockEstimate (): Promise<number> {
    if (Date.now() - lastBlock.at > LAST_BLOCK_REFRESH_MS) {
      const row = await db.get<{ last: number | null }>('SELECT MAX(block) AS last FROM book_blocks')
      lastBlock = { value: Number(row?.last ?? -1), at: Date.now() }
    }
    return lastBlock.value
  }

  /**
   * The blocks from `fromBlock` on whose text holds the needle, the first BLOCKS_PER_ROUND in
   * order. A long range is cut into `scanParts` slices scanned at once, on as many pooled
   * connections: each query runs on one server thread, so a needle found nowhere (the whole
   * range to scan) costs a slice's time, not the range's, on a server with cores to spare.
   * Each slice answers its own first BLOCKS_PER_ROUND, so their union holds the range's; the
   * last slice has no upper bound, so blocks added since the estimate are scanned too.
   */
  async function candidateBlocks (needle: string, fromBlock: number, toBlock: number): Promise<number[]> {
    const scan = async (from: number, to: number): Promise<number[]> =>
      (await db.all<{ block: number }>(`SELECT block FROM book_blocks WHERE block BETWEEN ? AND ? AND LOCATE(?, txt) > 0
        ORDER BY block LIMIT ${BLOCKS_PER_ROUND}`, [from, to, needle])).map((b) => Number(b.block))
    const span = Math.min(await lastBlockEstimate(), toBlock) - fromBlock + 1
    if (scanParts <= 1 || span < scanParts * BLOCKS_PER_ROUND) return scan(fromBlock, toBlock)
    const size = Math.ceil(span / scanParts)
    const slices = await Promise.all(Array.from({ length: scanParts }, (_, i) =>
      scan(fromBlock + i * size, i === scanParts - 1 ? toBlock : fromBlock + (i + 1) * size - 1)))
    return slices.flat().slice(0, BLOCKS_PER_ROUND)
  }

  /** Verified matches with ids above `after`, from blocks `fromBlock`..`toBlock`, into `c`. */
  async function blockPass (needle: string, c: Collected, after: number, fromBlock: number, toBlock = Number.MAX_SAFE_INTEGER): Promise<void> {
    while (!isFull(c) && fromBlock <= toBlock) {
      const blocks = await candidateBlocks(needle, fromBlock, toBlock)
      if (blocks.length === 0) break
      const ranges = blocks.map(() => 'id BETWEEN ? AND ?').join(' OR ')
      collect(c, await db.all<{ id: number }>(`SELECT id FROM book_search WHERE id > ? AND (${ranges})
        AND (LOCATE(?, title_lc) > 0 OR LOCATE(?, author_lc) > 0) ORDER BY id LIMIT ?`,
      [after, ...blocks.flatMap((b) => [b * blockIds, b * blockIds + blockIds - 1]), needle, needle, c.skip + c.limit - c.ids.length]))
      if (blocks.length < BLOCKS_PER_ROUND) break
      fromBlock = (blocks[blocks.length - 1] ?? 0) + 1
    }
  }

  /**
   * Verified matches with ids above `after` through book_fts, into `c`. Returns undefined when
   * the index has answered to the end (or the page is full), else the id after which the
   * block pass must go on: an index query ran out of its budget.
   */
  async function indexPass (needle: string, c: Collected, after: number): Promise<number | undefined> {
    for (let from = after; !isFull(c);) {
      const wanted = c.skip + c.limit - c.ids.length + FTS_SLACK
      let candidates: number[]
      try {
        // Escalation off: on few hits Groonga would retry with looser matching, only to be
        // verified away here.
        candidates = (await db.all<{ id: number }>(`SET STATEMENT max_statement_time = ${indexBudgetS}, mroonga_match_escalation_threshold = -1 FOR
          SELECT id FROM book_fts WHERE MATCH (txt) AGAINST (? IN BOOLEAN MODE) AND id > ? ORDER BY id LIMIT ?`,
        [phrase(needle), from, wanted])).map((r) => Number(r.id))
      } catch (err) {
        if (indexDidNotAnswer(err)) return from
        throw err
      }
      if (candidates.length === 0) return undefined
      collect(c, await db.all<{ id: number }>(`SELECT id FROM book_search WHERE id IN (${candidates.map(() => '?').join(', ')})
        AND (LOCATE(?, title_lc) > 0 OR LOCATE(?, author_lc) > 0) ORDER BY id`, [...candidates, needle, needle]))
      if (candidates.length < wanted) return undefined
      from = candidates[candidates.length - 1] ?? from
    }
    return undefined
  }

  /**
   * Whether this database has the Mroonga index (migration 8 made it only where the engine
   * was there). Looked up once, after migrations; `exclusive` (the migrations' lock) forgets
   * the answer, so a process that migrates sees the table it just made.
   */
  let ftsLookup: Promise<boolean> | undefined
  const hasFts = async (): Promise<boolean> => {
    ftsLookup ??= db.get<{ engine: string | null }>(`SELECT ENGINE AS engine FROM information_schema.TABLES
      WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'book_fts'`).then((row) => row?.engine?.toLowerCase() === 'mroonga')
    ftsLookup.catch(() => { ftsLookup = undefined })
    return ftsLookup
  }

  async function searchBookIds (needle: string, { after, offset, limit }: SearchPage): Promise<number[]> {
    const c: Collected = { ids: [], skip: offset, limit }
    const first = Math.floor((after + 1) / blockIds)
    if (search === 'blocks' || !(await hasFts())) {
      await blockPass(needle, c, after, first)
      return c.ids
    }
    await blockPass(needle, c, after, first, first + HEAD_BLOCKS - 1)
    if (isFull(c)) return c.ids
    const resume = await indexPass(needle, c, Math.max(after, (first + HEAD_BLOCKS) * blockIds - 1))
    if (resume !== undefined && !isFull(c)) await blockPass(needle, c, resume, Math.floor((resume + 1) / blockIds))
    return c.ids
  }

  async function booksIndexed (tx: SqlExecutor, rows: readonly SearchRow[]): Promise<void> {
    // Mroonga is not transactional: written first, so the row exists before the book commits
    // (a rollback leaves extra text, which verification ignores). Appended, never replaced.
    if (await hasFts()) {
      await tx.run(`INSERT INTO book_fts (id, txt) VALUES ${rows.map(() => '(?, ?)').join(', ')}
        ON DUPLICATE KEY UPDATE txt = RIGHT(CONCAT(txt, '\\n', VALUES(txt)), ${FTS_MAX_CHARS})`, rows.flatMap((r) => [r.id, ftsText(r)]))
    }
    await blocksIndexed(tx, rows)
  }

  /**
   * Groonga builds an index over rows already in its table several times faster than it
   * indexes them one by one, a cost that grows with the index (docs/PERFORMANCE.md, "Scale").
   * So a load of at least `bulkIndexMin` books, and at least as many as the index holds (the
   * rebuild covers every row), switches the index off, copies its books in before it commits,
   * and switches the index back on, which builds it whole. Meanwhile searches take the block
   * pass (complete: book_blocks is written as always), and while the index is being built,
   * writes to books wait for it.
   */
  async function bulkIndexing (count: number): Promise<BulkIndexing | undefined> {
    if (count < bulkIndexMin || !(await hasFts())) return undefined
    const indexed = Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM book_fts'))?.n ?? 0)
    if (count < indexed) return undefined
    await db.run('ALTER TABLE book_fts DISABLE KEYS')
    return {
      booksIndexed: blocksIndexed,
      loaded: copyIntoFts,
      // Not bounded like a statement: the build takes as long as the catalogue is large.
      done: async () => { await pool.query('ALTER TABLE book_fts ENABLE KEYS') }
    }
  }

  async function blocksIndexed (tx: SqlExecutor, rows: readonly SearchRow[]): Promise<void> {
    const texts = new Map<number, string[]>()
    for (const r of rows) {
      const block = Math.floor(r.id / blockIds)
      texts.set(block, [...(texts.get(block) ?? []), r.title_lc, r.author_lc])
    }
    for (const [block, parts] of texts) {
      const text = `\n${parts.join('\n')}`
      await tx.run('INSERT INTO book_blocks (block, txt) VALUES (?, ?) ON DUPLICATE KEY UPDATE txt = CONCAT(txt, ?)', [block, text, text])
      // Only single writes can grow a block past its catalogue's size; the bulk path appends once.
      if (rows.length > 1) continue
      const size = await tx.get<{ n: number }>('SELECT LENGTH(txt) AS n FROM book_blocks WHERE block = ?', [block])
      if (Number(size?.n ?? 0) <= MAX_BLOCK_BYTES) continue
      await tx.run('SET SESSION group_concat_max_len = 16777216')
      await tx.run(`UPDATE book_blocks SET txt = COALESCE((SELECT GROUP_CONCAT(CONCAT(title_lc, '\n', author_lc) SEPARATOR '\n')
        FROM book_search WHERE id BETWEEN ? AND ?), '') WHERE block = ?`, [block * blockIds, block * blockIds + blockIds - 1, block])
    }
  }

  /**
   * InnoDB gives a multi-row INSERT ... VALUES (a "simple insert": its row count is known)
   * its ids in one allocation, first = insertId, spaced by auto_increment_increment. That is
   * checked, not trusted: the rows at those ids, seen from this transaction, must be exactly
   * `count` (another writer's row among them, committed or not, makes the check fail, and the
   * bulk load with it, rather than index a wrong id).
   */
  async function insertedIds (tx: SqlExecutor, table: string, { insertId }: { insertId: number }, count: number): Promise<number[]> {
    step ??= Number((await tx.get<{ step: number }>('SELECT @@auto_increment_increment AS step'))?.step ?? 1)
    const ids = Array.from({ length: count }, (_, i) => insertId + i * (step ?? 1))
    const seen = await tx.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table} WHERE id BETWEEN ? AND ?`, [ids[0] ?? 0, ids[count - 1] ?? 0])
    if (Number(seen?.n) !== count) {
      throw new Error(`the ${count} rows inserted into ${table} from id ${insertId} are not consecutive ids; bulk load refused`)
    }
    return ids
  }

  // InnoDB may pick a transaction as a deadlock's victim, and Galera may fail its commit on a
  // certification conflict, and roll it back whole; running it again is what MySQL prescribes
  // (a body here holds no state outside the transaction).
  const transaction = <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => onOwnConnection((conn) => retryingDeadlocks(async () => {
    await conn.beginTransaction()
    try {
      const result = await fn(tracedExecutor(executor(conn), 'mysql', tracing))
      await conn.commit()
      return result
    } catch (err) {
      await conn.rollback().catch(() => undefined)
      throw err
    }
  }))

  /**
   * The lock that keeps two instances from migrating at once, as a leased row: GET_LOCK and
   * row locks are held by one server only, so on Galera two instances on two nodes would both
   * get them. Taking the row is a write, and of two writes to it on two nodes certification
   * lets one commit and fails the other, which then reads the winner's holder. Expired leases
   * (a holder that died) are taken over. The table is not a migration: it must exist first.
   */
  async function takeMigrationLock (holder: string): Promise<void> {
    await db.run(`CREATE TABLE IF NOT EXISTS migration_lock (
      id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
      holder CHAR(36) CHARACTER SET ascii NOT NULL,
      expires_at DATETIME(3) NOT NULL
    ) ENGINE=InnoDB`)
    const deadline = Date.now() + LOCK_TIMEOUT_S * 1000
    for (;;) {
      // Assignments run left to right: expires_at is extended only when holder is (now) ours.
      const got = await transaction(async (tx) => {
        await tx.run(`INSERT INTO migration_lock (id, holder, expires_at) VALUES (1, ?, UTC_TIMESTAMP(3) + INTERVAL ? SECOND)
          ON DUPLICATE KEY UPDATE holder = IF(expires_at < UTC_TIMESTAMP(3), VALUES(holder), holder),
          expires_at = IF(holder = VALUES(holder), VALUES(expires_at), expires_at)`, [holder, LOCK_LEASE_S])
        return (await tx.get<{ holder: string }>('SELECT holder FROM migration_lock WHERE id = 1'))?.holder === holder
      })
      if (got) return
      if (Date.now() > deadline) throw new Error(`could not take the migration lock within ${LOCK_TIMEOUT_S} s`)
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS * (0.5 + Math.random())))
    }
  }

  return {
    name: 'mysql',
    ...db,
    transaction,
    exclusive: (fn) => onOwnConnection(async (conn) => {
      const holder = randomUUID()
      await takeMigrationLock(holder)
      // Renewed on the pool: the migrating connection is busy with DDL for seconds at a time.
      const renew = setInterval(() => {
        db.run('UPDATE migration_lock SET expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND WHERE id = 1 AND holder = ?',
          [LOCK_LEASE_S, holder]).catch(() => undefined)
      }, (LOCK_LEASE_S * 1000) / 3)
      try {
        return await fn(tracedExecutor(executor(conn), 'mysql', tracing))
      } finally {
        ftsLookup = undefined
        clearInterval(renew)
        await db.run('DELETE FROM migration_lock WHERE id = 1 AND holder = ?', [holder])
      }
    }),
    // LOCATE is a plain substring test (no wildcards); on the VARBINARY/BLOB copies it compares
    // bytes, so no collation folds anything (utf8mb4_unicode_ci would make e find é).
    contains: (column) => `LOCATE(?, ${column}) > 0`,
    searchBookIds,
    booksIndexed,
    bulkIndexing,
    insertedIds,
    // The pool runs with timezone 'Z' and dateStrings, so DATETIME(3) travels as
    // 'YYYY-MM-DD HH:MM:SS.mmm' in UTC and DATE as 'YYYY-MM-DD', whatever the process TZ.
    toDbTime: (iso) => iso.replace('T', ' ').replace('Z', ''),
    fromDbTime: (stored) => `${stored.replace(' ', 'T')}Z`,
    isUniqueViolation: (err) => (err as { code?: unknown } | null)?.code === 'ER_DUP_ENTRY',
    async ping () {
      await pool.query({ sql: 'SELECT 1', timeout: QUERY_TIMEOUT_MS })
    },
    // @fastify/mysql ends the pool when the app closes.
    async close () {}
  }
}
