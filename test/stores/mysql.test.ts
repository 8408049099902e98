import { randomUUID } from 'node:crypto'
import mysql from 'mysql2/promise'
import t from 'tap'
import { MYSQL_POOL_OPTIONS, createMysqlBackend, migrateMysql } from '../../src/stores/mysql'
import { migrations } from '../../src/stores/sql/migrations'
import { bookStoreContract } from './book-store.contract'
import { reviewStoreContract } from './review-store.contract'
import { userStoreContract } from './user-store.contract'

const url = process.env.DATABASE_URL
if (url?.startsWith('mysql://') !== true) {
  process.stderr.write('SKIPPED: MySQL store suite — set DATABASE_URL=mysql://user:pass@host:3306/db (npm run services prints it)\n')
  t.plan(0, 'DATABASE_URL is not a mysql:// URL')
} else {
  // A database of this run's own, dropped at the end, so runs never see each other's rows.
  const name = `bookstore_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const scoped = new URL(url)
  scoped.pathname = `/${name}`
  let pool: mysql.Pool | undefined

  t.before(async () => {
    const admin = await mysql.createConnection(url)
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
    await admin.end()
    pool = mysql.createPool({ uri: scoped.toString(), ...MYSQL_POOL_OPTIONS })
  })
  t.teardown(async () => {
    await pool?.end()
    const admin = await mysql.createConnection(url)
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``)
    await admin.end()
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
