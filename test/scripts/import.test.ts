import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../config/paths'
import { ImportError, importFile, importSummary } from '../../scripts/import'
import { createSqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'
import { build, SAMPLE_BOOK } from '../support/app'

const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-import-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const file = (name: string, lines: string[]): string => {
  const at = path.join(dir, name)
  writeFileSync(at, `${lines.join('\n')}\n`)
  return at
}
const line = (book: Record<string, unknown>): string => JSON.stringify(book)

t.test('a good file is loaded whole, searchable, and the cached list sees it', async (t) => {
  const app = await build(t)
  t.same((await app.inject({ url: '/books' })).json(), [], 'cached empty list')
  const books = Array.from({ length: 2500 }, (_, i) => ({ ...SAMPLE_BOOK, title: `Bulk ${i}`, author: i === 1234 ? 'Ünique Writer' : 'Many' }))
  const lines = books.map(line)
  lines.splice(10, 0, '', '   ')
  const report = await importFile(app, file('good.jsonl', lines))
  t.equal(report.books, 2500)
  t.ok(report.perSecond > 0)
  const listed = (await app.inject({ url: '/books?limit=3' })).json<Array<Record<string, unknown>>>()
  t.match(listed, [{ ...SAMPLE_BOOK, title: 'Bulk 0', author: 'Many' }, { title: 'Bulk 1' }, { title: 'Bulk 2' }], 'the cache was invalidated')
  const found = (await app.inject({ url: '/books?q=%C3%BCNIQUE' })).json<Array<{ title: string }>>()
  t.same(found.map((b) => b.title), ['Bulk 1234'])
})

t.test('a bad line is reported with its number, and nothing of the file is loaded', async (t) => {
  const app = await build(t)
  const lines = Array.from({ length: 1500 }, (_, i) => line({ ...SAMPLE_BOOK, title: `Never ${i}` }))
  lines[1399] = line({ ...SAMPLE_BOOK, total_pages: '100' })
  await t.rejects(importFile(app, file('bad.jsonl', lines)), new ImportError(`${path.join(dir, 'bad.jsonl')}:1400: not a book body: /total_pages must be integer`))
  lines[1399] = '{"title": "x", '
  await t.rejects(importFile(app, file('broken.jsonl', lines)), { message: /:1400: not JSON$/ })
  t.same((await app.inject({ url: '/books' })).json(), [], 'nothing loaded')
})

t.test('an unknown field is refused, as POST /books refuses it', async (t) => {
  const app = await build(t)
  const lines = [line(SAMPLE_BOOK), line({ ...SAMPLE_BOOK, rating: 5 })]
  await t.rejects(importFile(app, file('unknown.jsonl', lines)), { message: /:2: not a book body: \/rating is not an allowed field$/ })
  t.same((await app.inject({ url: '/books' })).json(), [])
})

t.test('a file that cannot be read is one line naming it, and nothing is loaded', async (t) => {
  const app = await build(t)
  const missing = path.join(dir, 'missing.jsonl')
  await t.rejects(importFile(app, missing), new ImportError(`cannot read ${missing}: no such file or directory`))
  await t.rejects(importFile(app, dir), new ImportError(`cannot read ${dir}: illegal operation on a directory`))
  t.same((await app.inject({ url: '/books' })).json(), [])
})

t.test('npm run import with a missing file: that one line on stderr, exit 1', async (t) => {
  const missing = path.join(dir, 'missing.jsonl')
  const run = spawnSync(process.execPath, [path.join(projectRoot, 'dist-test', 'scripts', 'import.js'), missing], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, DATABASE_URL: 'sqlite::memory:' },
    encoding: 'utf8',
    timeout: 20_000
  })
  t.equal(run.status, 1)
  t.equal(run.stderr, `cannot read ${missing}: no such file or directory\n`)
  t.equal(run.stdout, '')
})

t.test('npm run import leaves the outbox to the servers: a waiting message is neither sent nor claimed', async (t) => {
  const dbFile = path.join(dir, 'outbox.db')
  const mailDir = path.join(dir, 'mail')
  const db = sqliteDialect(dbFile)
  await migrate(db)
  const stores = createSqlStores(db)
  await stores.outbox.enqueue({ user_id: null, to: 'reader@example.com', subject: 'Waiting', text: 'w', html: '<p>w</p>' }, new Date().toISOString())
  await db.close()
  const run = spawnSync(process.execPath, [path.join(projectRoot, 'dist-test', 'scripts', 'import.js'), file('one.jsonl', [line(SAMPLE_BOOK)])], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, DATABASE_URL: `sqlite:${dbFile}`, MAIL_DIR: mailDir },
    encoding: 'utf8',
    timeout: 20_000
  })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /^imported 1 book in /)
  t.notOk(existsSync(mailDir) && readdirSync(mailDir).length > 0, 'no mail was written')
  const reopened = sqliteDialect(dbFile)
  t.teardown(() => reopened.close())
  const due = await createSqlStores(reopened).outbox.claim(new Date().toISOString(), new Date(Date.now() + 60_000).toISOString(), 10)
  t.same(due.map((m) => m.subject), ['Waiting'], 'the message is still there for a server to send')
})

t.test('the summary: milliseconds under a second, a rate only when something was loaded', async (t) => {
  t.equal(importSummary({ books: 20, seconds: 0.0406, perSecond: 492.6 }), 'imported 20 books in 41 ms (493 books/s)')
  t.equal(importSummary({ books: 1, seconds: 0.0002, perSecond: 5000 }), 'imported 1 book in 1 ms (5000 books/s)')
  t.equal(importSummary({ books: 250_000, seconds: 12.34, perSecond: 20259.3 }), 'imported 250000 books in 12.3 s (20259 books/s)')
  t.equal(importSummary({ books: 0, seconds: 0.003, perSecond: 0 }), 'imported 0 books in 3 ms')
})
