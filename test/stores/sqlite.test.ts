import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { createSqliteBackend, migrateSqlite, openSqlite } from '../../src/stores/sqlite'
import { migrations } from '../../src/stores/sql/migrations'
import { bookStoreContract } from './book-store.contract'
import { reviewStoreContract } from './review-store.contract'
import { userStoreContract } from './user-store.contract'

// One file-backed database for the whole suite, as the embedded default runs.
const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-sqlite-'))
const backend = createSqliteBackend(`sqlite:${path.join(dir, 'test.db')}`)
t.teardown(async () => {
  await backend.close()
  rmSync(dir, { recursive: true, force: true })
})

t.test('users', async (t) => userStoreContract(t, async () => backend.users))
t.test('books', async (t) => bookStoreContract(t, async () => backend.books))
t.test('reviews', async (t) => reviewStoreContract(t, async () => ({
  reviews: backend.reviews,
  newBookId: async () => (await backend.books.create({ title: 'Reviewed', author: 'A' })).id
})))

t.test('deleting a book deletes its reviews in the same transaction', async (t) => {
  const book = await backend.books.create({ title: 'Doomed', author: 'A' })
  const review = await backend.reviews.create({ book_id: book.id, user_id: 1, author: 'A', title: 't', content: 'c' })
  t.equal(await backend.books.delete(book.id), true)
  t.equal(await backend.reviews.get(review.id), undefined)
})

t.test('migrations run once and are recorded', async (t) => {
  const file = path.join(dir, 'migrate.db')
  const db = openSqlite(`sqlite:${file}`)
  t.same(migrateSqlite(db), migrations.map((m) => m.version), 'a new database gets every version')
  t.same(migrateSqlite(db), [], 'a second run applies nothing')
  t.same(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), migrations.map((m) => m.version))
  db.close()
})

t.test('data survives reopening the file', async (t) => {
  const file = `sqlite:${path.join(dir, 'reopen.db')}`
  const first = createSqliteBackend(file)
  const book = await first.books.create({ title: 'Persistent', author: 'A' })
  await first.close()
  const second = createSqliteBackend(file)
  t.teardown(() => second.close())
  t.same(await second.books.get(book.id), book)
})
