import mysql from 'mysql2/promise'
import t from 'tap'
import { MYSQL_POOL_OPTIONS, mysqlDialect } from '../../src/stores/mysql/dialect'
import { createSqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { migrations } from '../../src/stores/sql/migrations'
import { apiKeyStoreContract } from './api-key-store.contract'
import { bookStoreContract } from './book-store.contract'
import { reviewStoreContract } from './review-store.contract'
import { bookSearchDifferential, reviewSearchDifferential } from './search-differential'
import { sessionStoreContract } from './session-store.contract'
import { sqlDialectContract } from './sql-dialect.contract'
import { skipSuite } from '../support/app'
import { binaryAvailable, scratchMysql, throwawayMariadb, type Throwaway } from '../support/servers'
import { userStoreContract } from './user-store.contract'

// DATABASE_URL's server when it names one (npm run services, CI); else a private MariaDB
// when its binaries are installed; else a loud skip.
const given = process.env.DATABASE_URL?.startsWith('mysql://') === true ? process.env.DATABASE_URL : undefined
if (given === undefined && !binaryAvailable('mariadbd')) {
  skipSuite(t, 'MySQL store suite', 'no mariadbd on PATH and no DATABASE_URL=mysql://user:pass@host:3306/db (npm run services installs and prints it)')
} else {
  // A database of this run's own, dropped at the end, so runs never see each other's rows.
  let server: Throwaway | undefined
  let scratch: Awaited<ReturnType<typeof scratchMysql>> | undefined
  let pool: mysql.Pool | undefined

  t.before(async () => {
    if (given === undefined) server = await throwawayMariadb()
    scratch = await scratchMysql(given ?? server?.url ?? '')
    pool = mysql.createPool({ uri: scratch.url, ...MYSQL_POOL_OPTIONS })
  })
  t.teardown(async () => {
    await pool?.end()
    await scratch?.drop()
    await server?.dispose()
  })
  const dialect = () => {
    if (pool === undefined) throw new Error('no pool')
    // Blocks of 8 ids, so a search crosses many blocks and rounds in a small catalogue.
    return mysqlDialect(pool, { blockIds: 8 })
  }
  const stores = () => createSqlStores(dialect())

  t.test('migrations run once, are recorded, and survive two instances at once', async (t) => {
    const [first, second] = await Promise.all([migrate(dialect()), migrate(dialect())])
    t.same([...first, ...second], migrations.map((m) => m.version), 'each version applied exactly once')
    t.same(await migrate(dialect()), [])
    t.same((await dialect().all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version),
      migrations.map((m) => m.version))
  })
  t.test('every pooled connection runs its first statement with wsrep_sync_wait = 1, also one opened before the dialect (on Galera, no read misses an acknowledged write)', async (t) => {
    if (pool === undefined || scratch === undefined) throw new Error('no pool')
    // The variable is MariaDB's; a server without it (MySQL) has nothing to show here.
    const [known] = await pool.query<mysql.RowDataPacket[]>("SHOW VARIABLES LIKE 'wsrep_sync_wait'")
    if (known.length === 0) return skipSuite(t, 'wsrep_sync_wait on pooled connections', 'this MySQL server has no wsrep_sync_wait (MariaDB has)')
    const own = mysql.createPool({ uri: scratch.url, ...MYSQL_POOL_OPTIONS, connectionLimit: 3 })
    t.teardown(async () => { await own.end() })
    // What @fastify/mysql does at registration: one statement, so one connection, before the dialect exists.
    const [[before]] = await own.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id')
    const db = mysqlDialect(own)
    // Three at once: the connection opened before, and two new ones.
    const rows = await Promise.all([1, 2, 3].map(async () =>
      db.get<{ id: number, wait: number }>('SELECT CONNECTION_ID() AS id, @@SESSION.wsrep_sync_wait AS wait, SLEEP(0.2) AS slept')))
    t.equal(new Set(rows.map((r) => r?.id)).size, 3, 'three connections')
    t.ok(rows.some((r) => r?.id === before?.id), 'one of them opened before the dialect')
    t.same(rows.map((r) => Number(r?.wait)), [1, 1, 1], 'each had wsrep_sync_wait = 1 at its first statement')
  })
  t.test('users', async (t) => userStoreContract(t, async () => stores().users))
  t.test('books', async (t) => bookStoreContract(t, async () => stores().books))
  t.test('reviews', async (t) => reviewStoreContract(t, async () => {
    const s = stores()
    return { reviews: s.reviews, newBookId: async () => (await s.books.create({ title: 'Reviewed', author: 'A' })).id }
  }))
  t.test('sessions', async (t) => sessionStoreContract(t, async () => stores()))
  t.test('API keys', async (t) => apiKeyStoreContract(t, async () => stores()))
  t.test('the dialect', async (t) => sqlDialectContract(t, async () => dialect()))
  t.test('book search, differentially', async (t) => bookSearchDifferential(t, async () => stores().books))
  t.test('book search over more blocks than one scan takes (sliced scans), differentially', async (t) => {
    // A database of its own: block size is fixed per database. One id per block and 300
    // books, so the candidate scan is cut into slices run at once and stitched in order.
    const own = await scratchMysql(given ?? server?.url ?? '')
    const ownPool = mysql.createPool({ uri: own.url, ...MYSQL_POOL_OPTIONS })
    t.teardown(async () => { await ownPool.end(); await own.drop() })
    const sliced = mysqlDialect(ownPool, { blockIds: 1 })
    await migrate(sliced)
    const { books } = createSqlStores(sliced)
    for (let i = 0; i < 260; i++) await books.create({ title: i % 97 === 0 ? `rare${i}` : `filler ${i}`, author: 'Someone' })
    const ids = async (q: string, limit = 100) => (await books.list({ offset: 0, after: 0, limit, q })).map((b) => b.title)
    t.same(await ids('rare'), ['rare0', 'rare97', 'rare194'], 'matches in the first, middle and last slices, in id order')
    t.same(await ids('filler', 40), Array.from({ length: 41 }, (_, i) => `filler ${i}`).filter((title) => title !== 'filler 0').slice(0, 40), 'a common needle pages across rounds')
    bookSearchDifferential(t, async () => books)
  })
  t.test('review search, differentially', async (t) => reviewSearchDifferential(t, async () => {
    const s = stores()
    return { reviews: s.reviews, newBookId: async () => (await s.books.create({ title: 'Reviewed', author: 'A' })).id }
  }))
}
