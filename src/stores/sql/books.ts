import type { Book, BookInput, BookRecord } from '../../schemas/book'
import type { BookStore } from '../types'
import type { BulkIndexing, SearchRow, SqlDialect, SqlExecutor, SqlValue } from './dialect'
import { readBack, versionClause } from './versioned'

const COLUMNS = 'id, title, author, published_at, description, isbn, total_pages, created_at, updated_at'
const RECORD_COLUMNS = `${COLUMNS}, version`
const INSERT_COLUMNS = 'title, author, published_at, description, isbn, total_pages, created_at, updated_at'

/** Rows per multi-row INSERT on the bulk path: 8 parameters each stays far below either database's limit. */
const ROWS_PER_INSERT = 500

type BookRow = Book
type RecordRow = BookRecord

/** The writable fields, in the order the INSERT and UPDATE below name them. */
const writable = (input: BookInput): SqlValue[] =>
  [input.title, input.author, input.published_at ?? null, input.description ?? null, input.isbn ?? null, input.total_pages ?? null]

/** The contract's folding, done here and only here: JavaScript's toLowerCase(), nothing else. */
const searchRow = (id: number, { title, author }: Pick<BookInput, 'title' | 'author'>): SearchRow =>
  ({ id, title_lc: title.toLowerCase(), author_lc: author.toLowerCase() })

/**
 * Writes new `book_search` rows (the lower-cased copies every dialect searches) and lets the
 * dialect's own index follow, inside the caller's transaction.
 */
async function indexNewBooks (db: SqlDialect | BulkIndexing, tx: SqlExecutor, rows: readonly SearchRow[]): Promise<void> {
  if (rows.length === 0) return
  await tx.run(`INSERT INTO book_search (id, title_lc, author_lc) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`,
    rows.flatMap((r) => [r.id, r.title_lc, r.author_lc]))
  await db.booksIndexed(tx, rows)
}

export function createBookStore (db: SqlDialect): BookStore {
  const stamps = <T extends Book>(row: T): T => ({ ...row, created_at: db.fromDbTime(row.created_at), updated_at: db.fromDbTime(row.updated_at) })
  const recordIn = async (ex: SqlExecutor, id: number): Promise<BookRecord | undefined> => {
    const row = await ex.get<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM books WHERE id = ?`, [id])
    return row === undefined ? undefined : stamps({ ...row, version: Number(row.version) })
  }
  const storedIn = async (ex: SqlExecutor, id: number): Promise<BookRecord> => readBack('book', id, await recordIn(ex, id))

  return {
    async list ({ offset, limit, after = 0, q }) {
      if (q === undefined || q === '') {
        const start = offset > 0 && db.seekBooks !== undefined ? await db.seekBooks(after, offset) : { after, offset }
        const rows = await db.all<BookRow>(`SELECT ${COLUMNS} FROM books WHERE id > ? ORDER BY id LIMIT ? OFFSET ?`, [start.after, limit, start.offset])
        return rows.map(stamps)
      }
      // The index answers ids in order with the page applied; the rows follow by primary key.
      const ids = await db.searchBookIds(q.toLowerCase(), { after, offset, limit })
      if (ids.length === 0) return []
      const rows = await db.all<BookRow>(`SELECT ${COLUMNS} FROM books WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id`, ids)
      return rows.map(stamps)
    },
    get: (id) => recordIn(db, id),
    async create (input) {
      const now = db.toDbTime(new Date().toISOString())
      return db.transaction(async (tx) => {
        const { insertId } = await tx.run(`INSERT INTO books (${INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [...writable(input), now, now])
        await indexNewBooks(db, tx, [searchRow(insertId, input)])
        return storedIn(tx, insertId)
      })
    },
    async update (id, input, expectedVersion) {
      const check = versionClause(expectedVersion)
      return db.transaction(async (tx) => {
        // The version test is in the UPDATE's own WHERE: check and write are one statement.
        const { changes } = await tx.run(`UPDATE books SET title = ?, author = ?, published_at = ?, description = ?, isbn = ?,
          total_pages = ?, updated_at = ?, version = version + 1 WHERE id = ?${check.sql}`,
        [...writable(input), db.toDbTime(new Date().toISOString()), id, ...check.params])
        if (changes === 0) return undefined
        const row = searchRow(id, input)
        await tx.run('UPDATE book_search SET title_lc = ?, author_lc = ? WHERE id = ?', [row.title_lc, row.author_lc, id])
        await db.booksIndexed(tx, [row])
        return storedIn(tx, id)
      })
    },
    async delete (id, expectedVersion) {
      const check = versionClause(expectedVersion)
      return db.transaction(async (tx) => {
        // The reviews table's foreign key cascades; the book service still asks the review store.
        const { changes } = await tx.run(`DELETE FROM books WHERE id = ?${check.sql}`, [id, ...check.params])
        if (changes === 0) return false
        await tx.run('DELETE FROM book_search WHERE id = ?', [id])
        return true
      })
    },
    async importMany (batches, expected = 0) {
      const now = db.toDbTime(new Date().toISOString())
      const bulk = await db.bulkIndexing?.(expected)
      try {
        return await db.transaction(async (tx) => {
          let count = 0
          let first: number | undefined
          let last = 0
          for await (const batch of batches) {
            for (let start = 0; start < batch.length; start += ROWS_PER_INSERT) {
              const rows = batch.slice(start, start + ROWS_PER_INSERT)
              const result = await tx.run(`INSERT INTO books (${INSERT_COLUMNS}) VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
                rows.flatMap((b) => [...writable(b), now, now]))
              const ids = await db.insertedIds(tx, 'books', result, rows.length)
              await indexNewBooks(bulk ?? db, tx, rows.map((b, i) => searchRow(ids[i] ?? 0, b)))
              first ??= ids[0]
              last = ids[ids.length - 1] ?? last
              count += rows.length
            }
          }
          if (bulk !== undefined && first !== undefined) await bulk.loaded(tx, first, last)
          return count
        })
      } finally {
        await bulk?.done()
      }
    }
  }
}
