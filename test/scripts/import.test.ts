import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ImportError, importFile } from '../../scripts/import'
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
