import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import { publicReview, type Book, type BookInput, type Page, type ReviewRecord, type User, type UserRecord } from '../../domain/models'
import type { Permission } from '../../domain/permission'
import { emailTaken } from '../../domain/errors'
import { isObjectId, newObjectId } from '../../domain/object-id'
import { migrations } from '../sql/migrations'
import type { BookStore, ReviewStore, SqlBackend, UserStore } from '../types'

/** A query may not hold a pooled connection longer than this, even on a frozen server. */
const QUERY_TIMEOUT_MS = 5000

type Params = Array<string | number | null>
type Queryable = Pick<Pool, 'query'> | PoolConnection

async function rows<T> (db: Queryable, sql: string, params: Params = []): Promise<T[]> {
  const [result] = await db.query<RowDataPacket[]>({ sql, timeout: QUERY_TIMEOUT_MS }, params)
  return result as T[]
}

async function run (db: Queryable, sql: string, params: Params = []): Promise<ResultSetHeader> {
  const [result] = await db.query<ResultSetHeader>({ sql, timeout: QUERY_TIMEOUT_MS }, params)
  return result
}

// The pool runs with timezone 'Z' and dateStrings, so DATETIME(3) arrives as
// 'YYYY-MM-DD HH:MM:SS.mmm' in UTC and DATE as 'YYYY-MM-DD', whatever the process TZ.
const toIso = (value: string): string => `${value.replace(' ', 'T')}Z`
const toSql = (iso: string): string => iso.replace('T', ' ').replace('Z', '')

/** Applies every migration not yet recorded; a named lock keeps two starting instances apart. */
export async function migrateMysql (pool: Pool): Promise<number[]> {
  const conn = await pool.getConnection()
  try {
    const [lock] = await rows<{ got: number | null }>(conn, "SELECT GET_LOCK('bookstore_migrations', 30) AS got")
    if (lock?.got !== 1) throw new Error('could not take the migration lock within 30 s')
    try {
      await run(conn, `CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at DATETIME(3) NOT NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`)
      const done = new Set((await rows<{ version: number }>(conn, 'SELECT version FROM schema_migrations')).map((r) => r.version))
      const applied: number[] = []
      for (const m of migrations) {
        if (done.has(m.version)) continue
        // MySQL commits DDL implicitly, so a migration is not atomic: each statement is written
        // to be the only one a version needs to finish, and the version is recorded last.
        for (const statement of m.mysql) await run(conn, statement)
        await run(conn, 'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, toSql(new Date().toISOString())])
        applied.push(m.version)
      }
      return applied
    } finally {
      await run(conn, "SELECT RELEASE_LOCK('bookstore_migrations')")
    }
  } finally {
    conn.release()
  }
}

interface UserRow { id: number, email: string, password_hash: string, permission: number, created_at: string }
const userOf = (r: UserRow): User => ({ id: r.id, email: r.email, permission: r.permission as Permission, created_at: toIso(r.created_at) })

function userStore (pool: Pool): UserStore {
  const byId = async (id: number): Promise<User | undefined> => {
    const [row] = await rows<UserRow>(pool, 'SELECT id, email, permission, created_at FROM users WHERE id = ?', [id])
    return row === undefined ? undefined : userOf(row)
  }
  return {
    async create ({ email, password_hash: hash, permission }) {
      const now = new Date().toISOString()
      try {
        const { insertId } = await run(pool, 'INSERT INTO users (email, password_hash, permission, created_at) VALUES (?, ?, ?, ?)', [email, hash, permission, toSql(now)])
        return { id: insertId, email, permission, created_at: now }
      } catch (err) {
        if ((err as { code?: string }).code === 'ER_DUP_ENTRY') throw emailTaken()
        throw err
      }
    },
    async findByEmail (email) {
      const [row] = await rows<UserRow>(pool, 'SELECT id, email, password_hash, permission, created_at FROM users WHERE email = ?', [email])
      return row === undefined ? undefined : { ...userOf(row), password_hash: row.password_hash } satisfies UserRecord
    },
    get: byId,
    async setPermission (id, permission) {
      const { affectedRows } = await run(pool, 'UPDATE users SET permission = ? WHERE id = ?', [permission, id])
      return affectedRows === 0 ? undefined : byId(id)
    },
    async setPasswordHash (id, hash) {
      await run(pool, 'UPDATE users SET password_hash = ? WHERE id = ?', [hash, id])
    }
  }
}

const BOOK_COLUMNS = 'id, title, author, published_at, description, isbn, total_pages, created_at, updated_at'
type BookRow = Omit<Book, 'created_at' | 'updated_at'> & { created_at: string, updated_at: string }
const bookOf = (r: BookRow): Book => ({ ...r, created_at: toIso(r.created_at), updated_at: toIso(r.updated_at) })
const bookValues = (input: BookInput): Params =>
  [input.title, input.author, input.published_at ?? null, input.description ?? null, input.isbn ?? null, input.total_pages ?? null]

function bookStore (pool: Pool): BookStore {
  const byId = async (id: number): Promise<Book | undefined> => {
    const [row] = await rows<BookRow>(pool, `SELECT ${BOOK_COLUMNS} FROM books WHERE id = ?`, [id])
    return row === undefined ? undefined : bookOf(row)
  }
  return {
    async list ({ offset, limit, q }: Page) {
      // LOCATE is a plain substring test (no wildcards), case-insensitive under utf8mb4_unicode_ci.
      const found = q === undefined || q === ''
        ? await rows<BookRow>(pool, `SELECT ${BOOK_COLUMNS} FROM books ORDER BY id LIMIT ? OFFSET ?`, [limit, offset])
        : await rows<BookRow>(pool, `SELECT ${BOOK_COLUMNS} FROM books WHERE LOCATE(?, title) > 0 OR LOCATE(?, author) > 0
            ORDER BY id LIMIT ? OFFSET ?`, [q, q, limit, offset])
      return found.map(bookOf)
    },
    get: byId,
    async create (input) {
      const now = toSql(new Date().toISOString())
      const { insertId } = await run(pool, `INSERT INTO books (title, author, published_at, description, isbn, total_pages, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [...bookValues(input), now, now])
      const book = await byId(insertId)
      if (book === undefined) throw new Error('inserted book not found')
      return book
    },
    async update (id, input) {
      const { affectedRows } = await run(pool, `UPDATE books SET title = ?, author = ?, published_at = ?, description = ?, isbn = ?,
        total_pages = ?, updated_at = ? WHERE id = ?`, [...bookValues(input), toSql(new Date().toISOString()), id])
      return affectedRows === 0 ? undefined : byId(id)
    },
    async delete (id) {
      const conn = await pool.getConnection()
      try {
        await conn.beginTransaction()
        await run(conn, 'DELETE FROM reviews WHERE book_id = ?', [id])
        const { affectedRows } = await run(conn, 'DELETE FROM books WHERE id = ?', [id])
        await conn.commit()
        return affectedRows > 0
      } catch (err) {
        await conn.rollback().catch(() => undefined)
        throw err
      } finally {
        conn.release()
      }
    }
  }
}

const REVIEW_COLUMNS = 'id, book_id, user_id, author, title, content, created_at, updated_at'
type ReviewRow = Omit<ReviewRecord, 'created_at' | 'updated_at'> & { created_at: string, updated_at: string }
const reviewOf = (r: ReviewRow): ReviewRecord => ({ ...r, created_at: toIso(r.created_at), updated_at: toIso(r.updated_at) })

function reviewStore (pool: Pool): ReviewStore {
  const byId = async (id: string): Promise<ReviewRecord | undefined> => {
    if (!isObjectId(id)) return undefined
    const [row] = await rows<ReviewRow>(pool, `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE id = ?`, [id])
    return row === undefined ? undefined : reviewOf(row)
  }
  return {
    async listByBook (bookId, { offset, limit, q }) {
      const found = q === undefined || q === ''
        ? await rows<ReviewRow>(pool, `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE book_id = ?
            ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, [bookId, limit, offset])
        : await rows<ReviewRow>(pool, `SELECT ${REVIEW_COLUMNS} FROM reviews WHERE book_id = ? AND (LOCATE(?, title) > 0 OR LOCATE(?, content) > 0)
            ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, [bookId, q, q, limit, offset])
      return found.map((r) => publicReview(reviewOf(r)))
    },
    get: byId,
    async create (input) {
      const now = toSql(new Date().toISOString())
      const id = newObjectId()
      await run(pool, `INSERT INTO reviews (${REVIEW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, input.book_id, input.user_id, input.author, input.title, input.content, now, now])
      const review = await byId(id)
      if (review === undefined) throw new Error('inserted review not found')
      return review
    },
    async update (id, { title, content }) {
      if (!isObjectId(id)) return undefined
      const { affectedRows } = await run(pool, 'UPDATE reviews SET title = ?, content = ?, updated_at = ? WHERE id = ?',
        [title, content, toSql(new Date().toISOString()), id])
      return affectedRows === 0 ? undefined : byId(id)
    },
    async delete (id) {
      return isObjectId(id) && (await run(pool, 'DELETE FROM reviews WHERE id = ?', [id])).affectedRows > 0
    },
    async deleteByBook (bookId) {
      return (await run(pool, 'DELETE FROM reviews WHERE book_id = ?', [bookId])).affectedRows
    }
  }
}

/** Books, users and (while MONGODB_URL is unset) reviews in MySQL, over a pool the plugin owns. */
export function createMysqlBackend (pool: Pool): SqlBackend {
  return {
    name: 'mysql',
    users: userStore(pool),
    books: bookStore(pool),
    reviews: reviewStore(pool),
    async ping () {
      await run(pool, 'SELECT 1')
    },
    // @fastify/mysql ends the pool on close.
    async close () {}
  }
}

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
