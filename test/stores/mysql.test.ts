import mysql from 'mysql2/promise'
import t from 'tap'
import { MYSQL_POOL_OPTIONS, createMysqlBackend, migrateMysql } from '../../src/stores/mysql'
import { migrations } from '../../src/stores/sql/migrations'
import { bookStoreContract } from './book-store.contract'
import { reviewStoreContract } from './review-store.contract'
import { scratchMysql, skipSuite } from '../helper'
import { userStoreContract } from './user-store.contract'

const url = process.env.DATABASE_URL
if (url?.startsWith('mysql://') !== true) {
  skipSuite(t, 'MySQL store suite', 'set DATABASE_URL=mysql://user:pass@host:3306/db (npm run services prints it)')
} else {
  // A database of this run's own, dropped at the end, so runs never see each other's rows.
  let scratch: Awaited<ReturnType<typeof scratchMysql>> | undefined
  let pool: mysql.Pool | undefined

  t.before(async () => {
    scratch = await scratchMysql(url)
    pool = mysql.createPool({ uri: scratch.url, ...MYSQL_POOL_OPTIONS })
  })
  t.teardown(async () => {
    await pool?.end()
    await scratch?.drop()
  })
  const backend = async () => {
    if (pool === undefined) throw new Error('no pool')
    return createMysqlBackend(pool)
  }

  t.test('migrations run once, are recorded, and survive two instances at once', async (t) => {
    if (pool === undefined) throw new Error('no pool')
    const [first, second] = await Promise.all([migrateMysql(pool), migrateMysql(pool)])
    t.same([...(first ?? []), ...(second ?? [])], migrations.map((m) => m.version), 'each version applied exactly once')
    t.same(await migrateMysql(pool), [])
    const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT version FROM schema_migrations ORDER BY version')
    t.same(rows.map((r) => r.version), migrations.map((m) => m.version))
  })
  t.test('users', async (t) => userStoreContract(t, async () => (await backend()).users))
  t.test('books', async (t) => bookStoreContract(t, async () => (await backend()).books))
  t.test('reviews', async (t) => reviewStoreContract(t, async () => {
    const b = await backend()
    return { reviews: b.reviews, newBookId: async () => (await b.books.create({ title: 'Reviewed', author: 'A' })).id }
  }))
  t.test('deleting a book deletes its reviews in the same transaction', async (t) => {
    const b = await backend()
    const book = await b.books.create({ title: 'Doomed', author: 'A' })
    const review = await b.reviews.create({ book_id: book.id, user_id: 1, author: 'A', title: 't', content: 'c' })
    t.equal(await b.books.delete(book.id), true)
    t.equal(await b.reviews.get(review.id), undefined)
  })
}
