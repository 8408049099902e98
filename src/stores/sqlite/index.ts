import { mkdirSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { publicReview, type Book, type BookInput, type Page, type ReviewRecord, type User, type UserRecord } from '../../domain/models'
import type { Permission } from '../../domain/permission'
import { emailTaken } from '../../domain/errors'
import { isObjectId, newObjectId } from '../../domain/object-id'
import { migrations } from '../sql/migrations'
import type { BookStore, ReviewStore, SqlBackend, UserStore } from '../types'

type Db = Database.Database

/** `sqlite:./data/x.db` → a path (relative to the working directory), or `:memory:`. */
export function sqliteFile (url: string): string {
  const file = url.slice('sqlite:'.length)
  return file === ':memory:' ? file : path.resolve(file)
}

export function openSqlite (url: string): Db {
  const file = sqliteFile(url)
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  // A Unicode-aware, pattern-free substring test: user input is never a LIKE pattern here.
  db.function('icontains', { deterministic: true }, (haystack: unknown, needle: unknown) =>
    typeof haystack === 'string' && typeof needle === 'string' && haystack.toLowerCase().includes(needle) ? 1 : 0)
  return db
}

/** Applies every migration not yet recorded, each in its own transaction. Returns the versions applied. */
export function migrateSqlite (db: Db): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
  const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[])
  const applied: number[] = []
  for (const m of migrations) {
    if (done.has(m.version)) continue
    db.transaction(() => {
      for (const statement of m.sqlite) db.exec(statement)
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
        .run(m.version, m.name, new Date().toISOString())
    }).immediate()
    applied.push(m.version)
  }
  return applied
}

function isUniqueViolation (err: unknown): boolean {
  return err instanceof Database.SqliteError && err.code === 'SQLITE_CONSTRAINT_UNIQUE'
}

function userStore (db: Db): UserStore {
  const insert = db.prepare('INSERT INTO users (email, password_hash, permission, created_at) VALUES (?, ?, ?, ?)')
  const byEmail = db.prepare('SELECT id, email, password_hash, permission, created_at FROM users WHERE email = ?')
  const byId = db.prepare('SELECT id, email, permission, created_at FROM users WHERE id = ?')
  const setPermission = db.prepare('UPDATE users SET permission = ? WHERE id = ?')
  const setHash = db.prepare('UPDATE users SET password_hash = ? WHERE id = ?')
  return {
    async create ({ email, password_hash: hash, permission }) {
      const createdAt = new Date().toISOString()
      try {
        const { lastInsertRowid } = insert.run(email, hash, permission, createdAt)
        return { id: Number(lastInsertRowid), email, permission, created_at: createdAt }
      } catch (err) {
        if (isUniqueViolation(err)) throw emailTaken()
        throw err
      }
    },
    async findByEmail (email) {
      return byEmail.get(email) as UserRecord | undefined
    },
    async get (id) {
      return byId.get(id) as User | undefined
    },
    async setPermission (id, permission: Permission) {
      return setPermission.run(permission, id).changes === 0 ? undefined : byId.get(id) as User
    },
    async setPasswordHash (id, hash) {
      setHash.run(hash, id)
    }
  }
}

const BOOK_COLUMNS = 'id, title, author, published_at, description, isbn, total_pages, created_at, updated_at'

function bookValues (input: BookInput): Array<string | number | null> {
  return [input.title, input.author, input.published_at ?? null, input.description ?? null, input.isbn ?? null, input.total_pages ?? null]
}

function bookStore (db: Db): BookStore {
  const list = db.prepare(`SELECT ${BOOK_COLUMNS} FROM books ORDER BY id LIMIT ? OFFSET ?`)
  const search = db.prepare(`SELECT ${BOOK_COLUMNS} FROM books
    WHERE icontains(title, @q) OR icontains(author, @q) ORDER BY id LIMIT @limit OFFSET @offset`)
  const byId = db.prepare(`SELECT ${BOOK_COLUMNS} FROM books WHERE id = ?`)
  const insert = db.prepare(`INSERT INTO books (title, author, published_at, description, isbn, total_pages, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
  const update = db.prepare(`UPDATE books SET title = ?, author = ?, published_at = ?, description = ?, isbn = ?,
    total_pages = ?, updated_at = ? WHERE id = ?`)
  const remove = db.prepare('DELETE FROM books WHERE id = ?')
  const removeReviews = db.prepare('DELETE FROM reviews WHERE book_id = ?')
  const deleteWithReviews = db.transaction((id: number) => {
    removeReviews.run(id)
    return remove.run(id).changes > 0
  })
  return {
    async list ({ offset, limit, q }: Page) {
      return (q === undefined || q === ''
        ? list.all(limit, offset)
        : search.all({ q: q.toLowerCase(), limit, offset })) as Book[]
    },
    async get (id) {
      return byId.get(id) as Book | undefined
    },
    async create (input) {
      const now = new Date().toISOString()
      const { lastInsertRowid } = insert.run(...bookValues(input), now, now)
      return byId.get(lastInsertRowid) as Book
    },
    async update (id, input) {
      const changed = update.run(...bookValues(input), new Date().toISOString(), id).changes
      return changed === 0 ? undefined : byId.get(id) as Book
    },
    async delete (id) {
      return deleteWithReviews(id)
    }
  }
}

const REVIEW_COLUMNS = 'id, book_id, user_id, author, title, content, created_at, updated_at'

function reviewStore (db: Db): ReviewStore {
  const list = db.prepare(`SELECT ${REVIEW_COLUMNS} FROM reviews WHERE book_id = ?
    ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`)
  const search = db.prepare(`SELECT ${REVIEW_COLUMNS} FROM reviews
    WHERE book_id = @bookId AND (icontains(title, @q) OR icontains(content, @q))
    ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset`)
  const byId = db.prepare(`SELECT ${REVIEW_COLUMNS} FROM reviews WHERE id = ?`)
  const insert = db.prepare(`INSERT INTO reviews (${REVIEW_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
  const update = db.prepare('UPDATE reviews SET title = ?, content = ?, updated_at = ? WHERE id = ?')
  const remove = db.prepare('DELETE FROM reviews WHERE id = ?')
  const removeByBook = db.prepare('DELETE FROM reviews WHERE book_id = ?')
  return {
    async listByBook (bookId, { offset, limit, q }) {
      const rows = (q === undefined || q === ''
        ? list.all(bookId, limit, offset)
        : search.all({ bookId, q: q.toLowerCase(), limit, offset })) as ReviewRecord[]
      return rows.map(publicReview)
    },
    async get (id) {
      return isObjectId(id) ? byId.get(id) as ReviewRecord | undefined : undefined
    },
    async create (input) {
      const now = new Date().toISOString()
      const id = newObjectId()
      insert.run(id, input.book_id, input.user_id, input.author, input.title, input.content, now, now)
      return byId.get(id) as ReviewRecord
    },
    async update (id, { title, content }) {
      if (!isObjectId(id)) return undefined
      const changed = update.run(title, content, new Date().toISOString(), id).changes
      return changed === 0 ? undefined : byId.get(id) as ReviewRecord
    },
    async delete (id) {
      return isObjectId(id) && remove.run(id).changes > 0
    },
    async deleteByBook (bookId) {
      return removeByBook.run(bookId).changes
    }
  }
}

export function createSqliteBackend (url: string): SqlBackend {
  const db = openSqlite(url)
  migrateSqlite(db)
  const ping = db.prepare('SELECT 1')
  return {
    name: 'sqlite',
    users: userStore(db),
    books: bookStore(db),
    reviews: reviewStore(db),
    async ping () {
      ping.get()
    },
    async close () {
      if (db.open) db.close()
    }
  }
}
