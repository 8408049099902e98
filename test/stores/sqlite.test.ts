import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { createSqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { migrations } from '../../src/stores/sql/migrations'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'
import { apiKeyStoreContract } from './api-key-store.contract'
import { bookStoreContract } from './book-store.contract'
import { reviewStoreContract } from './review-store.contract'
import { bookSearchDifferential, reviewSearchDifferential } from './search-differential'
import { sessionStoreContract } from './session-store.contract'
import { sqlDialectContract } from './sql-dialect.contract'
import { userStoreContract } from './user-store.contract'

const execFileAsync = promisify(execFile)

// One file-backed database for the whole suite, as the embedded default runs.
const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-sqlite-'))
// A tiny scan step, so short needles cross many step boundaries even in a small catalogue.
const db = sqliteDialect(path.join(dir, 'test.db'), { scanChunkRows: 7 })
const stores = createSqlStores(db)
t.teardown(async () => {
  await db.close()
  rmSync(dir, { recursive: true, force: true })
})

t.before(async () => {
  await migrate(db)
})
t.test('users', async (t) => userStoreContract(t, async () => stores.users))
t.test('books', async (t) => bookStoreContract(t, async () => stores.books))
t.test('reviews', async (t) => reviewStoreContract(t, async () => ({
  reviews: stores.reviews,
  newBookId: async () => (await stores.books.create({ title: 'Reviewed', author: 'A' })).id
})))
t.test('sessions', async (t) => sessionStoreContract(t, async () => stores))
t.test('API keys', async (t) => apiKeyStoreContract(t, async () => stores))
t.test('the dialect', async (t) => sqlDialectContract(t, async () => db))
t.test('book search, differentially', async (t) => bookSearchDifferential(t, async () => stores.books))
t.test('a deep offset is skipped in steps that let other work run between them', async (t) => {
  const first = (await stores.books.create({ title: 'Stepped 0', author: 'S' })).id
  for (let i = 1; i < 40; i++) await stores.books.create({ title: `Stepped ${i}`, author: 'S' })
  const turns = { plain: 0, searched: 0 }
  const during = async (which: keyof typeof turns, read: () => Promise<unknown>): Promise<unknown> => {
    let on = true
    const spin = (): void => { if (on) { turns[which]++; setImmediate(spin) } }
    setImmediate(spin)
    try {
      return await read()
    } finally {
      on = false
    }
  }
  const plain = await during('plain', async () => (await stores.books.list({ offset: 35, limit: 5, after: first - 1 })).map((b) => b.title))
  const searched = await during('searched', async () => (await stores.books.list({ offset: 35, limit: 5, q: 'stepped' })).map((b) => b.title))
  t.same(plain, ['Stepped 35', 'Stepped 36', 'Stepped 37', 'Stepped 38', 'Stepped 39'])
  t.same(searched, plain)
  // Steps of 7 ids: 35 skipped in 5 steps, each followed by a turn of the event loop.
  t.ok(turns.plain >= 4, `the event loop turned ${turns.plain} times during the plain page`)
  t.ok(turns.searched >= 4, `and ${turns.searched} times during the searched one`)
})
t.test('review search, differentially', async (t) => reviewSearchDifferential(t, async () => ({
  reviews: stores.reviews,
  newBookId: async () => (await stores.books.create({ title: 'Reviewed', author: 'A' })).id
})))

t.test('migrations run once, are recorded, and survive two instances starting at once', async (t) => {
  // Two processes, as two instances on one file are: in one process a connection waiting for
  // the file's lock would block the very thread that holds it.
  const file = path.join(dir, 'migrate.db')
  const dialect = path.join(__dirname, '..', '..', 'src', 'stores', 'sqlite', 'dialect.js')
  const runner = path.join(__dirname, '..', '..', 'src', 'stores', 'sql', 'migrate.js')
  const script = `require(${JSON.stringify(runner)}).migrate(require(${JSON.stringify(dialect)}).sqliteDialect(process.argv[1]))` +
    '.then((v) => console.log(JSON.stringify(v)))'
  const migrateInChild = async (): Promise<number[]> => {
    const { stdout } = await execFileAsync(process.execPath, ['-e', script, file])
    return JSON.parse(stdout) as number[]
  }
  const [first, second] = await Promise.all([migrateInChild(), migrateInChild()])
  t.same([...first, ...second].sort((a, b) => a - b), migrations.map((m) => m.version), 'each version applied exactly once')
  const db = sqliteDialect(file)
  t.teardown(() => db.close())
  t.same(await migrate(db), [], 'a third run applies nothing')
  t.same((await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version),
    migrations.map((m) => m.version))
})

t.test('data survives reopening the file', async (t) => {
  const file = path.join(dir, 'reopen.db')
  const first = sqliteDialect(file)
  await migrate(first)
  const book = await createSqlStores(first).books.create({ title: 'Persistent', author: 'A' })
  await first.close()
  const second = sqliteDialect(file)
  t.teardown(() => second.close())
  t.same(await migrate(second), [], 'nothing to apply on a migrated file')
  t.same(await createSqlStores(second).books.get(book.id), book)
})

t.test('dataVersion changes for another process\'s commit, not for its own; an in-memory database has none', async (t) => {
  const file = path.join(dir, 'data-version.db')
  const running = sqliteDialect(file)
  t.teardown(() => running.close())
  await migrate(running)
  const version = (): number => {
    if (running.dataVersion === undefined) throw new Error('a file database without dataVersion')
    return running.dataVersion()
  }
  const start = version()
  await createSqlStores(running).books.create({ title: 'Own write', author: 'A' })
  t.equal(version(), start, 'its own commit leaves it')
  const dialect = path.join(__dirname, '..', '..', 'src', 'stores', 'sqlite', 'dialect.js')
  const script = `const db = require(${JSON.stringify(dialect)}).sqliteDialect(process.argv[1]);` +
    'db.run("UPDATE books SET title = ?", ["Written elsewhere"]).then(() => db.close())'
  await execFileAsync(process.execPath, ['-e', script, file])
  t.not(version(), start, 'another process\'s commit changes it')
  const memory = sqliteDialect(':memory:')
  t.teardown(() => memory.close())
  t.equal(memory.dataVersion, undefined)
})
