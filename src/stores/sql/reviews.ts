import { ObjectId } from 'bson'
import { isObjectId } from '../../schemas/common'
import { publicReview, type ReviewRecord } from '../../schemas/review'
import type { ReviewStore } from '../types'
import type { SqlDialect, SqlExecutor } from './dialect'
import { readBack, versionClause } from './versioned'

const COLUMNS = 'id, book_id, user_id, author, title, content, created_at, updated_at, version'
const NEWEST_FIRST = 'ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?'

type ReviewRow = ReviewRecord

/** Reviews in the SQL database (while MONGODB_URL is unset), with ObjectId ids as MongoDB makes them. */
export function createReviewStore (db: SqlDialect): ReviewStore {
  const recordOf = (row: ReviewRow): ReviewRecord =>
    ({ ...row, version: Number(row.version), created_at: db.fromDbTime(row.created_at), updated_at: db.fromDbTime(row.updated_at) })
  // Anything that is not 24 hex digits is simply not found; it never reaches SQL.
  const recordIn = async (ex: SqlExecutor, id: string): Promise<ReviewRecord | undefined> => {
    if (!isObjectId(id)) return undefined
    const row = await ex.get<ReviewRow>(`SELECT ${COLUMNS} FROM reviews WHERE id = ?`, [id])
    return row === undefined ? undefined : recordOf(row)
  }
  const storedIn = async (ex: SqlExecutor, id: string): Promise<ReviewRecord> => readBack('review', id, await recordIn(ex, id))
  const search = `SELECT ${COLUMNS} FROM reviews WHERE book_id = ? AND (${db.contains('title_lc')} OR ${db.contains('content_lc')}) ${NEWEST_FIRST}`

  return {
    async listByBook (bookId, { offset, limit, q }) {
      const rows = q === undefined || q === ''
        ? await db.all<ReviewRow>(`SELECT ${COLUMNS} FROM reviews WHERE book_id = ? ${NEWEST_FIRST}`, [bookId, limit, offset])
        : await db.all<ReviewRow>(search, [bookId, q.toLowerCase(), q.toLowerCase(), limit, offset])
      return rows.map((row) => publicReview(recordOf(row)))
    },
    get: (id) => recordIn(db, id),
    async create (input) {
      const now = db.toDbTime(new Date().toISOString())
      const id = new ObjectId().toHexString()
      // The lower-cased copies are what `q` searches: the contract's folding is JavaScript's.
      await db.run(`INSERT INTO reviews (${COLUMNS}, title_lc, content_lc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
        [id, input.book_id, input.user_id, input.author, input.title, input.content, now, now, input.title.toLowerCase(), input.content.toLowerCase()])
      return storedIn(db, id)
    },
    async update (id, { title, content }, expectedVersion) {
      if (!isObjectId(id)) return undefined
      const check = versionClause(expectedVersion)
      // The read-back shares the transaction, so it is this write's state.
      return db.transaction(async (tx) => {
        const { changes } = await tx.run(`UPDATE reviews SET title = ?, content = ?, title_lc = ?, content_lc = ?, updated_at = ?,
          version = version + 1 WHERE id = ?${check.sql}`,
        [title, content, title.toLowerCase(), content.toLowerCase(), db.toDbTime(new Date().toISOString()), id, ...check.params])
        if (changes === 0) return undefined
        return storedIn(tx, id)
      })
    },
    async delete (id, expectedVersion) {
      if (!isObjectId(id)) return false
      const check = versionClause(expectedVersion)
      const { changes } = await db.run(`DELETE FROM reviews WHERE id = ?${check.sql}`, [id, ...check.params])
      return changes > 0
    },
    async deleteByBook (bookId) {
      return (await db.run('DELETE FROM reviews WHERE book_id = ?', [bookId])).changes
    },
    // Both by the reviews_user index.
    async listByUser (userId) {
      const rows = await db.all<ReviewRow>(`SELECT ${COLUMNS} FROM reviews WHERE user_id = ? ORDER BY created_at DESC, id DESC`, [userId])
      return rows.map((row) => publicReview(recordOf(row)))
    },
    async deleteByUser (userId) {
      return (await db.run('DELETE FROM reviews WHERE user_id = ?', [userId])).changes
    }
  }
}
