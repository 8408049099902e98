import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { BookInput } from '../../src/schemas/book'
import type { BookStore } from '../../src/stores/types'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

const tag = (): string => randomUUID().slice(0, 8)

function input (title: string, extra: Partial<BookInput> = {}): BookInput {
  return { title, author: 'Anne Author', published_at: '1999-12-31', description: 'd', isbn: '978-0-14-143951-8', total_pages: 321, ...extra }
}

/** What every BookStore must do. Queries are scoped by a random tag so databases can be shared. */
export function bookStoreContract (t: Test, open: () => Promise<BookStore>): void {
  t.test('creates, reads, replaces and deletes a book', async (t) => {
    const books = await open()
    const before = Date.now()
    const created = await books.create(input(`Title ${tag()}`))
    const after = Date.now()
    t.match(created, { ...input(created.title), created_at: ISO_UTC, updated_at: ISO_UTC })
    const stamped = Date.parse(created.created_at)
    t.ok(stamped >= before - 1 && stamped <= after + 1, `created_at ${created.created_at} is the real UTC time of the write, not shifted by a time zone`)
    t.equal(created.created_at, created.updated_at)
    t.same(await books.get(created.id), created)

    await new Promise((resolve) => setTimeout(resolve, 5))
    const replaced = await books.update(created.id, { title: 'New title', author: 'B' })
    t.same(replaced, {
      id: created.id, title: 'New title', author: 'B', published_at: null, description: null, isbn: null,
      total_pages: null, created_at: created.created_at, updated_at: replaced?.updated_at
    }, 'omitted fields are cleared: a PUT replaces')
    t.ok((replaced?.updated_at ?? '') > created.updated_at, 'updated_at moves forward')
    t.same(await books.get(created.id), replaced)

    t.equal(await books.delete(created.id), true)
    t.equal(await books.get(created.id), undefined)
    t.equal(await books.delete(created.id), false)
    t.equal(await books.update(created.id, input('x')), undefined)
  })

  t.test('keeps a calendar date as written, whatever the time zone', async (t) => {
    const books = await open()
    for (const date of ['1813-01-28', '2024-02-29', '1000-01-01']) {
      const created = await books.create(input(`Date ${tag()}`, { published_at: date }))
      t.equal((await books.get(created.id))?.published_at, date)
    }
  })

  t.test('pages by id with offset and limit', async (t) => {
    const books = await open()
    const mark = tag()
    const ids: number[] = []
    for (let i = 0; i < 7; i++) ids.push((await books.create(input(`Paged ${mark} ${i}`))).id)
    t.same((await books.list({ offset: 0, limit: 5, q: mark })).map((b) => b.id), ids.slice(0, 5))
    t.same((await books.list({ offset: 5, limit: 5, q: mark })).map((b) => b.id), ids.slice(5))
    t.same(await books.list({ offset: 7, limit: 5, q: mark }), [])
    const all = await books.list({ offset: 0, limit: 100 })
    t.ok(all.length >= 7 && all.every((b, i) => i === 0 || (all[i - 1]?.id ?? 0) < b.id), 'ordered by id')
  })

  t.test('searches title or author as a case-insensitive plain substring', async (t) => {
    const books = await open()
    const mark = tag()
    const a = await books.create(input(`The ${mark} Chronicle`, { author: 'Zed' }))
    const b = await books.create(input('Other', { author: `Émile ${mark.toUpperCase()}` }))
    await books.create(input('Unrelated', { author: 'Nobody' }))
    t.same((await books.list({ offset: 0, limit: 10, q: mark.toUpperCase() })).map((x) => x.id), [a.id, b.id])
    t.same((await books.list({ offset: 0, limit: 10, q: `émile ${mark}` })).map((x) => x.id), [b.id], 'non-ASCII case folds')
    const odd = await books.create(input(`100%_off ${mark} [x] \\ 'q'`))
    t.same((await books.list({ offset: 0, limit: 10, q: `%_off ${mark}` })).map((x) => x.id), [odd.id], '% and _ are literal')
    t.same(await books.list({ offset: 0, limit: 10, q: `${mark}%` }), [], 'a trailing % is not a wildcard')
    t.same(await books.list({ offset: 0, limit: 10, q: `${mark.slice(0, 3)}_${mark.slice(4)}` }), [], '_ is not a wildcard')
    t.same((await books.list({ offset: 0, limit: 10, q: `[x] \\ 'q'` })).map((x) => x.id), [odd.id], 'brackets, backslash, quotes')
  })
}
