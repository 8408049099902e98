import type { Book, BookInput } from '../../schemas/book'
import type { BookStore } from '../types'
import type { SqlDialect, SqlValue } from './dialect'

const COLUMNS = 'id, title, author, published_at, description, isbn, total_pages, created_at, updated_at'

type BookRow = Book

/** The writable fields, in the order the INSERT and UPDATE below name them. */
const writable = (input: BookInput): SqlValue[] =>
  [input.title, input.author, input.published_at ?? null, input.description ?? null, input.isbn ?? null, input.total_pages ?? null]

export function createBookStore (db: SqlDialect): BookStore {
  const bookOf = (row: BookRow): Book => ({ ...row, created_at: db.fromDbTime(row.created_at), updated_at: db.fromDbTime(row.updated_at) })
  const byId = async (id: number): Promise<Book | undefined> => {
    const row = await db.get<BookRow>(`SELECT ${COLUMNS} FROM books WHERE id = ?`, [id])
    return row === undefined ? undefined : bookOf(row)
  }
  const stored = async (id: number): Promise<Book> => {
    const book = await byId(id)
    if (book === undefined) throw new Error(`book ${id} was written but cannot be read back`)
    return book
  }
  const search = `SELECT ${COLUMNS} FROM books WHERE ${db.contains('title')} OR ${db.contains('author')} ORDER BY id LIMIT ? OFFSET ?`

  return {
    async list ({ offset, limit, q }) {
      const rows = q === undefined || q === ''
        ? await db.all<BookRow>(`SELECT ${COLUMNS} FROM books ORDER BY id LIMIT ? OFFSET ?`, [limit, offset])
        : await db.all<BookRow>(search, [q.toLowerCase(), q.toLowerCase(), limit, offset])
      return rows.map(bookOf)
    },
    get: byId,
    async create (input) {
      const now = db.toDbTime(new Date().toISOString())
      const { insertId } = await db.run(`INSERT INTO books (title, author, published_at, description, isbn, total_pages, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [...writable(input), now, now])
      return stored(insertId)
    },
    async update (id, input) {
      const { changes } = await db.run(`UPDATE books SET title = ?, author = ?, published_at = ?, description = ?, isbn = ?,
        total_pages = ?, updated_at = ? WHERE id = ?`, [...writable(input), db.toDbTime(new Date().toISOString()), id])
      return changes === 0 ? undefined : stored(id)
    },
    async delete (id) {
      // The reviews table's foreign key cascades; the book service still asks the review store.
      return (await db.run('DELETE FROM books WHERE id = ?', [id])).changes > 0
    }
  }
}
