import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { createSqlStores } from '../../src/stores/sql'
import type { SqlDialect } from '../../src/stores/sql/dialect'
import { uniqueEmail } from '../support/app'

interface Titled { title: string }

/**
 * What the SQL stores rely on a dialect for, beyond running statements: transactions that
 * nothing else leaks into, stamps that round-trip, and a recognisable unique violation.
 * Run on a migrated database, once per dialect.
 */
export function sqlDialectContract (t: Test, open: () => Promise<SqlDialect>): void {
  const insertBook = 'INSERT INTO books (title, author, created_at, updated_at) VALUES (?, ?, ?, ?)'
  const titled = async (db: SqlDialect, title: string): Promise<string[]> =>
    (await db.all<Titled>('SELECT title FROM books WHERE title = ?', [title])).map((r) => r.title)
  // These rows bypass the book store, so its search index never saw them: they go again, so
  // the suites that follow (the search differential) see only books the store wrote.
  const removeAfterwards = (t: Test, db: SqlDialect, ...titles: string[]): void => {
    t.teardown(async () => {
      for (const title of titles) await db.run('DELETE FROM books WHERE title = ?', [title])
    })
  }

  t.test('a transaction commits all of its statements, or none', async (t) => {
    const db = await open()
    const now = db.toDbTime(new Date().toISOString())
    const kept = `Kept ${uniqueEmail()}`
    removeAfterwards(t, db, kept)
    await db.transaction(async (tx) => {
      await tx.run(insertBook, [kept, 'A', now, now])
      await tx.run(insertBook, [kept, 'B', now, now])
    })
    t.equal((await titled(db, kept)).length, 2)

    const undone = `Undone ${uniqueEmail()}`
    await t.rejects(db.transaction(async (tx) => {
      await tx.run(insertBook, [undone, 'A', now, now])
      throw new Error('changed my mind')
    }), { message: 'changed my mind' })
    t.same(await titled(db, undone), [], 'rolled back')
  })

  t.test('a statement from elsewhere never runs inside an open transaction', async (t) => {
    const db = await open()
    const now = db.toDbTime(new Date().toISOString())
    const inside = `Inside ${uniqueEmail()}`
    const outside = `Outside ${uniqueEmail()}`
    removeAfterwards(t, db, inside, outside)
    const failing = db.transaction(async (tx) => {
      await tx.run(insertBook, [inside, 'A', now, now])
      await sleep(50)
      throw new Error('rolled back')
    })
    // Starts while the transaction is open: it must not be rolled back with it.
    const independent = db.run(insertBook, [outside, 'A', now, now])
    await t.rejects(failing)
    await independent
    t.same(await titled(db, inside), [])
    t.same(await titled(db, outside), [outside])
  })

  t.test('stamps round-trip as ISO 8601 UTC with milliseconds', async (t) => {
    const db = await open()
    const iso = '2024-02-29T23:59:58.123Z'
    const title = `Stamped ${uniqueEmail()}`
    removeAfterwards(t, db, title)
    await db.run(insertBook, [title, 'A', db.toDbTime(iso), db.toDbTime(iso)])
    const row = await db.get<{ created_at: string }>('SELECT created_at FROM books WHERE title = ?', [title])
    t.equal(db.fromDbTime(row?.created_at ?? ''), iso)
  })

  t.test('a duplicate on a unique index is recognised as such, and nothing else is', async (t) => {
    const db = await open()
    const email = uniqueEmail()
    const insertUser = 'INSERT INTO users (email, password_hash, permission, created_at) VALUES (?, ?, ?, ?)'
    const now = db.toDbTime(new Date().toISOString())
    await db.run(insertUser, [email, 'x', 1, now])
    const duplicate = await db.run(insertUser, [email, 'y', 1, now]).catch((err: unknown) => err)
    t.equal(db.isUniqueViolation(duplicate), true)
    const other = await db.run('INSERT INTO no_such_table (x) VALUES (?)', [1]).catch((err: unknown) => err)
    t.ok(other instanceof Error, 'a bad statement rejects')
    t.equal(db.isUniqueViolation(other), false)
    const outOfRange = await db.run(insertUser, [uniqueEmail(), 'z', 9, now]).catch((err: unknown) => err)
    t.ok(outOfRange instanceof Error, 'the permission range is checked by the database too')
  })

  t.test("a deleted book's reviews go by the foreign key, so the review store then finds none", async (t) => {
    const db = await open()
    const { books, reviews } = createSqlStores(db)
    const book = await books.create({ title: 'Doomed', author: 'A' })
    const review = await reviews.create({ book_id: book.id, user_id: 1, author: 'A', title: 't', content: 'c' })
    t.equal(await books.delete(book.id), true)
    t.equal(await reviews.get(review.id), undefined)
    t.equal(await reviews.deleteByBook(book.id), 0)
  })
}
