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
      total_pages: null, created_at: created.created_at, updated_at: replaced?.updated_at, version: 2
    }, 'omitted fields are cleared: a PUT replaces, and the version moves on')
    t.equal(created.version, 1, 'a new book is at version 1')
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

  t.test('deep offsets: every offset of a 30-book run agrees with its ids, plain and searched', async (t) => {
    const books = await open()
    const mark = tag()
    const ids: number[] = []
    for (let i = 0; i < 30; i++) ids.push((await books.create(input(`Deep ${mark} ${i}`))).id)
    const after = (ids[0] ?? 1) - 1
    for (let offset = 0; offset <= 31; offset++) {
      t.same((await books.list({ offset, limit: 3, after })).map((b) => b.id), ids.slice(offset, offset + 3), `plain, o=${offset}`)
      t.same((await books.list({ offset, limit: 3, q: mark })).map((b) => b.id), ids.slice(offset, offset + 3), `searched, o=${offset}`)
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

  t.test('a conditional update or delete writes only at the expected version', async (t) => {
    const books = await open()
    const created = await books.create(input(`Versioned ${tag()}`))
    t.equal(await books.update(created.id, input('stale'), 2), undefined, 'a version the book is not at: refused')
    t.same(await books.get(created.id), created, 'and nothing changed')
    const v2 = await books.update(created.id, input('fresh'), 1)
    t.equal(v2?.version, 2)
    t.equal(v2?.title, 'fresh')
    t.equal(await books.delete(created.id, 1), false, 'a delete at an old version is refused')
    t.equal((await books.get(created.id))?.title, 'fresh')
    t.equal(await books.delete(created.id, 2), true)
    t.equal(await books.get(created.id), undefined)
    t.equal(await books.update(created.id, input('gone'), 2), undefined)
  })

  t.test('two concurrent conditional updates at the same version: exactly one succeeds', async (t) => {
    const books = await open()
    for (let round = 0; round < 10; round++) {
      const created = await books.create(input(`Race ${tag()}`))
      const results = await Promise.all([books.update(created.id, input('A'), 1), books.update(created.id, input('B'), 1)])
      const won = results.filter((r) => r !== undefined)
      t.equal(won.length, 1, `round ${round}: one winner`)
      t.same(await books.get(created.id), won[0], 'the stored book is the winner’s')
      const deletes = await Promise.all([books.delete(created.id, 2), books.delete(created.id, 2)])
      t.same(deletes.filter(Boolean).length, 1, 'and one of two conditional deletes')
    }
  })

  t.test('keyset pages: only ids after `after`, in id order, with or without q', async (t) => {
    const books = await open()
    const mark = tag()
    const ids: number[] = []
    for (let i = 0; i < 7; i++) ids.push((await books.create(input(`Keyset ${mark} ${i}`))).id)
    t.same((await books.list({ offset: 0, limit: 3, after: ids[1], q: mark })).map((b) => b.id), ids.slice(2, 5))
    t.same((await books.list({ offset: 0, limit: 3, after: ids[6], q: mark })), [])
    t.same((await books.list({ offset: 0, limit: 2, after: ids[4] })).map((b) => b.id).slice(0, 2), ids.slice(5, 7), 'without q too')
    t.same((await books.list({ offset: 0, limit: 10, after: ids[4], q: 'k' })).map((b) => b.id).filter((id) => ids.includes(id)),
      ids.slice(5), 'a 1-character needle pages the same way')
    const listed = await books.list({ offset: 0, limit: 1, q: mark })
    t.ok(listed.length === 1 && !('version' in (listed[0] ?? {})), 'a list carries no version')
  })

  t.test('folds exactly as toLowerCase(): no accent folding, İ and ß as JavaScript lower-cases them', async (t) => {
    const books = await open()
    const mark = tag()
    const accented = await books.create(input(`Café ${mark}`, { author: `İstanbul STRAßE ${mark}` }))
    t.same(await books.list({ offset: 0, limit: 10, q: `cafe ${mark}` }), [], 'e does not find é')
    t.same((await books.list({ offset: 0, limit: 10, q: `CAFÉ ${mark}` })).map((b) => b.id), [accented.id])
    t.same((await books.list({ offset: 0, limit: 10, q: `i̇stanbul straße ${mark}` })).map((b) => b.id), [accented.id], 'İ lower-cases to i + combining dot')
    t.same(await books.list({ offset: 0, limit: 10, q: `istanbul strasse ${mark}` }), [], 'no further folding')
    const nul = await books.create(input(`${mark}a\u0000bc`))
    t.same(await books.list({ offset: 0, limit: 10, q: `${mark}abc` }), [], 'a NUL in a title is a character, not skipped')
    t.same((await books.list({ offset: 0, limit: 10, q: `${mark}a\u0000b` })).map((b) => b.id), [nul.id], 'and a needle may hold one')
  })

  t.test('imports batches all or nothing, searchable at once', async (t) => {
    const books = await open()
    const mark = tag()
    async function * batches (): AsyncIterable<BookInput[]> {
      yield Array.from({ length: 600 }, (_, i) => input(`Imported ${mark} ${i}`))
      yield [input(`Imported ${mark} last`, { author: `Zoë ${mark}` })]
    }
    t.equal(await books.importMany(batches()), 601)
    const found = await books.list({ offset: 0, limit: 100, q: `imported ${mark} 59` })
    t.same(found.map((b) => b.title), [`Imported ${mark} 59`, ...Array.from({ length: 10 }, (_, i) => `Imported ${mark} ${590 + i}`)])
    t.equal((await books.list({ offset: 0, limit: 5, q: `zoë ${mark}` }))[0]?.title, `Imported ${mark} last`)
    const first = (await books.list({ offset: 0, limit: 1, q: `imported ${mark} 0` }))[0]
    t.equal((await books.get(first?.id ?? 0))?.version, 1)

    const doomed = tag()
    async function * failing (): AsyncIterable<BookInput[]> {
      yield [input(`Doomed ${doomed} 1`)]
      throw new Error('the file broke')
    }
    await t.rejects(books.importMany(failing()), { message: 'the file broke' })
    t.same(await books.list({ offset: 0, limit: 5, q: doomed }), [], 'nothing of a failed import stays')
  })
}
