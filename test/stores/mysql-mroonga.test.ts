import mysql from 'mysql2/promise'
import t, { type Test } from 'tap'
import { MYSQL_POOL_OPTIONS, mysqlDialect, type MysqlOptions } from '../../src/stores/mysql/dialect'
import { createSqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { skipSuite } from '../support/app'
import { binaryAvailable, scratchMysql, throwawayMariadb, type Throwaway } from '../support/servers'
import { bookSearchDifferential } from './search-differential'

// The book search through MariaDB's Mroonga trigram index (src/stores/mysql/dialect.ts), on a
// private MariaDB started with the plugin: the shared test server does not load it, and
// loading a plugin needs privileges its user does not have. test/stores/mysql.test.ts keeps
// the block pass (the fallback) tested there.
if (!binaryAvailable('mariadbd')) {
  skipSuite(t, 'Mroonga book search suite', 'no mariadbd on PATH (Debian: mariadb-server and mariadb-plugin-mroonga)')
} else {
  let server: Throwaway | undefined
  const pools: mysql.Pool[] = []
  let mroonga = false

  t.before(async () => {
    server = await throwawayMariadb({ plugins: ['ha_mroonga'] })
    const conn = await mysql.createConnection(server.url)
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS n FROM information_schema.ENGINES WHERE ENGINE = 'Mroonga' AND SUPPORT = 'YES'")
    mroonga = Number(rows[0]?.n) === 1
    await conn.end()
  })
  t.teardown(async () => {
    for (const pool of pools) await pool.end()
    await server?.dispose()
  })

  /** A migrated database of its own; ids per block: 1, so the LOCATE head covers 16 books and the index the rest. */
  const database = async (t: Test, options: MysqlOptions = {}) => {
    const own = await scratchMysql(server?.url ?? '')
    const pool = mysql.createPool({ uri: own.url, ...MYSQL_POOL_OPTIONS })
    pools.push(pool)
    t.teardown(async () => { await own.drop() })
    const open = (more: MysqlOptions = {}) => mysqlDialect(pool, { blockIds: 1, ...options, ...more })
    await migrate(open())
    return { open, stores: (more: MysqlOptions = {}) => createSqlStores(open(more)) }
  }

  t.test('the Mroonga index', async (t) => {
    if (!mroonga) {
      skipSuite(t, 'Mroonga book search suite', 'the server did not load ha_mroonga (Debian: apt-get install mariadb-plugin-mroonga)')
      return
    }

    t.test('migration 8 makes book_fts on Mroonga and fills it from the books already there', async (t) => {
      const { open, stores } = await database(t)
      const engine = await open().get<{ engine: string }>("SELECT ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'book_fts'")
      t.equal(engine?.engine, 'Mroonga')
      // As if the catalogue predated version 8: no index, books written without it.
      await open().run('DROP TABLE book_fts')
      await open().run('DELETE FROM schema_migrations WHERE version = 8')
      const { books } = stores()
      for (let i = 0; i < 30; i++) await books.create({ title: i === 25 ? 'Backfilled\u0000Title' : `Filler ${i}`, author: i === 25 ? 'After NUL' : 'Someone' })
      t.same(await migrate(open()), [8])
      await open().run('DELETE FROM book_blocks')
      t.same((await stores().books.list({ offset: 0, after: 0, limit: 5, q: 'after nul' })).map((b) => b.author), ['After NUL'],
        'a book from before the index is found through it, text after a NUL too')
    })

    t.test('search is answered by the index past the LOCATE head: with book_blocks emptied it still finds, the block pass does not', async (t) => {
      const { open, stores } = await database(t)
      const { books } = stores()
      const ids: number[] = []
      for (let i = 0; i < 60; i++) ids.push((await books.create({ title: i === 50 ? 'The Zebra Quartet' : `Filler ${i}`, author: i === 55 ? 'Émile ZOLA' : 'Someone' })).id)
      await open().run('DELETE FROM book_blocks')
      const titles = async (q: string, options: MysqlOptions = {}) =>
        (await stores(options).books.list({ offset: 0, after: 0, limit: 10, q })).map((b) => b.title)
      t.same(await titles('zebra q'), ['The Zebra Quartet'], 'a title, case-insensitively')
      t.same(await titles('mile zo'), ['Filler 55'], 'an author, accents kept')
      t.same(await titles('zebra q', { search: 'blocks' }), [], 'the forced block pass, its blocks gone, finds nothing: the index answered above')
      t.same(await titles('e zo'), ['Filler 55'], 'a needle of 4 characters with a space')
      t.same(await titles('ra'), ['The Zebra Quartet'], '2 characters (a trigram prefix)')
      t.same(await titles('é'), ['Filler 55'], '1 character')
    })

    t.test('updates and deletes: old text is verified away, new text found at once', async (t) => {
      const { stores } = await database(t)
      const { books } = stores()
      for (let i = 0; i < 20; i++) await books.create({ title: `Filler ${i}`, author: 'A' })
      const book = await books.create({ title: 'Original Heading', author: 'Writer' })
      const titles = async (q: string) => (await books.list({ offset: 0, after: 0, limit: 10, q })).map((b) => b.title)
      t.same(await titles('original'), ['Original Heading'])
      await books.update(book.id, { title: 'Renamed Heading', author: 'Writer' }, undefined)
      t.same(await titles('original'), [], 'the old title no longer matches')
      t.same(await titles('renamed'), ['Renamed Heading'])
      for (let v = 0; v < 30; v++) await books.update(book.id, { title: `Version ${v} ${'x'.repeat(240)}`, author: 'Writer' }, undefined)
      t.same(await titles('version 29'), [`Version 29 ${'x'.repeat(240)}`], 'many updates: the latest text is kept as the index text is cut')
      await books.delete(book.id, undefined)
      t.same(await titles('version'), [], 'a deleted book is not answered')
    })

    t.test('book search, differentially (index after a 16-book head)', async (t) => {
      const { stores } = await database(t)
      bookSearchDifferential(t, async () => stores().books)
    })
    t.test('book search, differentially, every index query past its budget (the block pass takes over)', async (t) => {
      const { stores } = await database(t)
      bookSearchDifferential(t, async () => stores({ indexBudgetS: 0.000001 }).books)
    })
    t.test('book search, differentially, the block pass forced on a database with the index', async (t) => {
      const { stores } = await database(t)
      bookSearchDifferential(t, async () => stores({ search: 'blocks' }).books)
    })
  })
}
