import mysql from 'mysql2/promise'
import t, { type Test } from 'tap'
import { MYSQL_POOL_OPTIONS, mysqlDialect, type MysqlOptions } from '../../src/stores/mysql/dialect'
import type { BookInput } from '../../src/schemas/book'
import { createSqlStores } from '../../src/stores/sql'
import type { SqlExecutor } from '../../src/stores/sql/dialect'
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

    /** Whether book_fts' index answers: a bulk load switches it off (ER_FT_MATCHING_KEY_NOT_FOUND). */
    const indexOn = async (executor: SqlExecutor): Promise<boolean> => executor.all(`SELECT id FROM book_fts WHERE MATCH (txt) AGAINST ('"zzz"' IN BOOLEAN MODE)`)
      .then(() => true, (err: unknown) => {
        if ((err as { code?: unknown }).code === 'ER_FT_MATCHING_KEY_NOT_FOUND') return false
        throw err
      })
    const importBatches = (from: number, count: number): BookInput[][] =>
      Array.from({ length: count / 100 }, (_, b) => Array.from({ length: 100 }, (_, i) => ({ title: `Imported ${from + b * 100 + i} item`, author: 'Loader' })))

    t.test('a large bulk load builds the index once, at its end; searches meanwhile take the block pass', async (t) => {
      const { open, stores } = await database(t, { bulkIndexMin: 200 })
      const { books } = stores()
      for (let i = 0; i < 20; i++) await books.create({ title: i === 18 ? 'Before The Load' : `Filler ${i}`, author: 'A' })
      const during: Array<{ on: boolean, found: string[], concurrent: number }> = []
      async function * watched (): AsyncGenerator<BookInput[]> {
        for (const [n, batch] of importBatches(0, 300).entries()) {
          if (n === 1) {
            // Another writer, between two of the load's batches: its id falls inside the load's range.
            const concurrent = await stores().books.create({ title: 'Written Meanwhile', author: 'Someone Else' })
            during.push({
              on: await indexOn(open()),
              found: (await stores().books.list({ offset: 0, after: 0, limit: 5, q: 'before the' })).map((b) => b.title),
              concurrent: concurrent.id
            })
          }
          yield batch
        }
      }
      t.equal(await books.importMany(watched(), 300), 300)
      t.same(during.map(({ on, found }) => ({ on, found })), [{ on: false, found: ['Before The Load'] }],
        'during the load the index is off, and a search past the LOCATE head is still answered')
      t.ok(await indexOn(open()), 'after the load the index is on')
      await open().run('DELETE FROM book_blocks')
      const titles = async (q: string) => (await stores().books.list({ offset: 0, after: 0, limit: 5, q })).map((b) => b.title)
      t.same(await titles('imported 299 '), ['Imported 299 item'], 'a loaded book is found through the index alone')
      t.same(await titles('written meanwhile'), ['Written Meanwhile'], 'so is the book another writer added during the load')
      t.same(await titles('before the'), ['Before The Load'], 'and a book from before it')
      t.ok((during[0]?.concurrent ?? 0) > 20, 'the other writer\'s book got an id among the load\'s')
    })

    t.test('a bulk load that fails leaves the index on, and one below the threshold never switches it off', async (t) => {
      const { open, stores } = await database(t, { bulkIndexMin: 200 })
      const { books } = stores()
      async function * failing (): AsyncGenerator<BookInput[]> {
        yield * importBatches(0, 200)
        throw new Error('the file went away')
      }
      await t.rejects(books.importMany(failing(), 300), /the file went away/)
      t.ok(await indexOn(open()), 'the index is on again after the rollback')
      t.same(await books.list({ offset: 0, after: 0, limit: 5, q: 'imported' }), [], 'and nothing of the load is there')
      const seen: boolean[] = []
      async function * small (): AsyncGenerator<BookInput[]> {
        for (const batch of importBatches(0, 100)) {
          seen.push(await indexOn(open()))
          yield batch
        }
      }
      t.equal(await books.importMany(small(), 100), 100)
      t.same(seen, [true], 'below bulkIndexMin the index stays on throughout')
      await open().run('DELETE FROM book_blocks')
      t.same((await books.list({ offset: 0, after: 0, limit: 5, q: 'imported 99 ' })).map((b) => b.title), ['Imported 99 item'])
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
