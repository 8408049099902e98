import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import type { SqlDialect, SqlExecutor, SqlValue } from '../sql/dialect'

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

/** How long a starting instance waits for another one's migrations. */
const LOCK_TIMEOUT_S = 30

type Queryable = Pick<Pool, 'query'> | PoolConnection

function executor (db: Queryable): SqlExecutor {
  const all = async <T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> => {
    const [rows] = await db.query<RowDataPacket[]>({ sql, timeout: QUERY_TIMEOUT_MS }, [...params])
    return rows as T[]
  }
  return {
    all,
    async get<T> (sql: string, params?: readonly SqlValue[]) {
      return (await all<T>(sql, params))[0]
    },
    async run (sql, params = []) {
      const [result] = await db.query<ResultSetHeader>({ sql, timeout: QUERY_TIMEOUT_MS }, [...params])
      return { changes: result.affectedRows, insertId: result.insertId }
    }
  }
}

/** MySQL (and MariaDB) over the pool @fastify/mysql owns. */
export function mysqlDialect (pool: Pool): SqlDialect {
  async function onOwnConnection<T> (fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await pool.getConnection()
    try {
      return await fn(conn)
    } finally {
      conn.release()
    }
  }

  return {
    name: 'mysql',
    ...executor(pool),
    transaction: (fn) => onOwnConnection(async (conn) => {
      await conn.beginTransaction()
      try {
        const result = await fn(executor(conn))
        await conn.commit()
        return result
      } catch (err) {
        await conn.rollback().catch(() => undefined)
        throw err
      }
    }),
    exclusive: (fn) => onOwnConnection(async (conn) => {
      const db = executor(conn)
      const lock = await db.get<{ got: number | null }>('SELECT GET_LOCK(?, ?) AS got', ['bookstore_migrations', LOCK_TIMEOUT_S])
      if (lock?.got !== 1) throw new Error(`could not take the migration lock within ${LOCK_TIMEOUT_S} s`)
      try {
        return await fn(db)
      } finally {
        await db.get('SELECT RELEASE_LOCK(?) AS released', ['bookstore_migrations'])
      }
    }),
    // LOCATE is a plain substring test (no wildcards), case-insensitive under utf8mb4_unicode_ci.
    contains: (column) => `LOCATE(?, ${column}) > 0`,
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
