import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { ReviewStore } from '../../src/stores/types'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

export interface ReviewFixture {
  reviews: ReviewStore
  /** A book id reviews may point at (a real book where the backend enforces it). */
  newBookId: () => Promise<number>
}

/** What every ReviewStore must do, SQL or MongoDB alike. */
export function reviewStoreContract (t: Test, open: () => Promise<ReviewFixture>): void {
  t.test('creates, reads, edits and deletes a review with a 24-hex id', async (t) => {
    const { reviews, newBookId } = await open()
    const bookId = await newBookId()
    const created = await reviews.create({ book_id: bookId, user_id: 7, author: 'Jane', title: 'Great', content: 'Loved it' })
    t.match(created, { id: /^[0-9a-f]{24}$/, book_id: bookId, user_id: 7, author: 'Jane', title: 'Great', content: 'Loved it', created_at: ISO_UTC, version: 1 })
    t.equal(created.updated_at, created.created_at)
    t.same(await reviews.get(created.id), created)

    await new Promise((resolve) => setTimeout(resolve, 5))
    const edited = await reviews.update(created.id, { title: 'Better', content: 'Still loved it' })
    t.match(edited, { id: created.id, user_id: 7, author: 'Jane', title: 'Better', content: 'Still loved it', created_at: created.created_at, version: 2 })
    t.ok((edited?.updated_at ?? '') > created.updated_at)
    t.same(await reviews.get(created.id), edited)

    t.equal(await reviews.delete(created.id), true)
    t.equal(await reviews.get(created.id), undefined)
    t.equal(await reviews.delete(created.id), false)
    t.equal(await reviews.update(created.id, { title: 'x', content: 'y' }), undefined)
  })

  t.test('a malformed or unknown id is simply not found', async (t) => {
    const { reviews } = await open()
    for (const id of ['nope', '123', 'zzzzzzzzzzzzzzzzzzzzzzzz', '0'.repeat(24), "' OR 1=1 --", '{"$gt":""}']) {
      t.equal(await reviews.get(id), undefined, id)
      t.equal(await reviews.delete(id), false, id)
      t.equal(await reviews.update(id, { title: 'x', content: 'y' }), undefined, id)
    }
  })

  t.test('lists a book’s reviews newest first, paged, without user ids', async (t) => {
    const { reviews, newBookId } = await open()
    const bookId = await newBookId()
    const other = await newBookId()
    const ids: string[] = []
    for (let i = 0; i < 6; i++) {
      ids.push((await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: `R${i}`, content: 'c' })).id)
    }
    await reviews.create({ book_id: other, user_id: 1, author: 'A', title: 'elsewhere', content: 'c' })
    const newest = [...ids].reverse()
    const first = await reviews.listByBook(bookId, { offset: 0, limit: 4 })
    t.same(first.map((r) => r.id), newest.slice(0, 4))
    t.notOk(first.some((r) => 'user_id' in r || 'version' in r), 'lists carry neither the writer id nor the version')
    t.same((await reviews.listByBook(bookId, { offset: 4, limit: 4 })).map((r) => r.id), newest.slice(4))
  })

  t.test('searches title or content as a case-insensitive plain substring', async (t) => {
    const { reviews, newBookId } = await open()
    const bookId = await newBookId()
    // Hex could hold "ca" itself; the m at each end keeps "ca " (with its space) out of it.
    const mark = `m${randomUUID().slice(0, 8)}m`
    const a = await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: `About ${mark}`, content: 'x' })
    const b = await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: 'Plain', content: `Ça ${mark.toUpperCase()} .* (a+)+$` })
    await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: 'Other', content: 'nothing' })
    t.same((await reviews.listByBook(bookId, { offset: 0, limit: 10, q: mark })).map((r) => r.id), [b.id, a.id])
    t.same((await reviews.listByBook(bookId, { offset: 0, limit: 10, q: 'ça' })).map((r) => r.id), [b.id])
    t.same((await reviews.listByBook(bookId, { offset: 0, limit: 10, q: '.*' })).map((r) => r.id), [b.id], 'regex characters are literal')
    t.same((await reviews.listByBook(bookId, { offset: 0, limit: 10, q: '(a+)+$' })).map((r) => r.id), [b.id])
    t.same(await reviews.listByBook(bookId, { offset: 0, limit: 10, q: '%' }), [])
    t.same(await reviews.listByBook(bookId, { offset: 0, limit: 10, q: 'ca ' }), [], 'no accent folding: "ca " does not find "ça "')
    const dotted = await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: `İZMIR ${mark}`, content: 'STRAßE' })
    t.same((await reviews.listByBook(bookId, { offset: 0, limit: 10, q: `i̇zmir ${mark}` })).map((r) => r.id), [dotted.id], 'İ folds as toLowerCase()')
    t.same(await reviews.listByBook(bookId, { offset: 0, limit: 10, q: `izmir ${mark}` }), [])
    t.same((await reviews.listByBook(bookId, { offset: 0, limit: 10, q: 'straße' })).map((r) => r.id), [dotted.id])
    const nul = await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: `${mark}a\u0000bc`, content: 'c' })
    t.same((await reviews.listByBook(bookId, { offset: 0, limit: 10, q: `${mark}a\u0000b` })).map((r) => r.id), [nul.id], 'a needle may hold a NUL')
    t.same(await reviews.listByBook(bookId, { offset: 0, limit: 10, q: `${mark}abc` }), [])
  })

  t.test('a conditional edit or delete writes only at the expected version', async (t) => {
    const { reviews, newBookId } = await open()
    const created = await reviews.create({ book_id: await newBookId(), user_id: 1, author: 'A', title: 't', content: 'c' })
    t.equal(await reviews.update(created.id, { title: 'x', content: 'y' }, 2), undefined)
    t.same(await reviews.get(created.id), created, 'nothing changed')
    const v2 = await reviews.update(created.id, { title: 'x', content: 'y' }, 1)
    t.equal(v2?.version, 2)
    t.equal(await reviews.delete(created.id, 1), false)
    t.equal((await reviews.get(created.id))?.title, 'x')
    t.equal((await reviews.update(created.id, { title: 'z', content: 'y' }))?.version, 3, 'an unconditional edit moves the version too')
    t.equal(await reviews.delete(created.id, 3), true)
    t.equal(await reviews.get(created.id), undefined)
  })

  t.test('concurrent conditional edits at the same version: exactly one succeeds', async (t) => {
    const { reviews, newBookId } = await open()
    const bookId = await newBookId()
    for (let round = 0; round < 20; round++) {
      const created = await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: 't', content: 'c' })
      const results = await Promise.all(['A', 'B', 'C'].map((title) => reviews.update(created.id, { title, content: 'c' }, 1)))
      const won = results.filter((r) => r !== undefined)
      t.equal(won.length, 1, `round ${round}: one winner of three`)
      t.same(await reviews.get(created.id), won[0], 'the stored review is the winner’s')
      // An unconditional edit racing a conditional one: both may land, but never both on version 2.
      const [plain, conditional] = await Promise.all([
        reviews.update(created.id, { title: 'plain', content: 'c' }),
        reviews.update(created.id, { title: 'cond', content: 'c' }, 2)
      ])
      t.ok(plain !== undefined, 'the unconditional edit always lands')
      if (conditional !== undefined) t.not(conditional.version, plain?.version, 'never the same version twice')
      t.equal((await reviews.get(created.id))?.version, conditional === undefined ? 3 : 4)
    }
  })

  t.test('deletes every review of one book', async (t) => {
    const { reviews, newBookId } = await open()
    const bookId = await newBookId()
    const keep = await newBookId()
    await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: 't', content: 'c' })
    await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: 't', content: 'c' })
    const kept = await reviews.create({ book_id: keep, user_id: 1, author: 'A', title: 't', content: 'c' })
    t.equal(await reviews.deleteByBook(bookId), 2)
    t.same(await reviews.listByBook(bookId, { offset: 0, limit: 10 }), [])
    t.same(await reviews.get(kept.id), kept)
  })

  t.test('lists every review of one writer, newest first, and deletes them all, harmlessly again', async (t) => {
    const { reviews, newBookId } = await open()
    const [one, two] = [await newBookId(), await newBookId()]
    // Random writer ids: databases may be shared.
    const writer = 1_000_000 + Math.floor(Math.random() * 1_000_000_000)
    const other = writer + 1
    const first = await reviews.create({ book_id: one, user_id: writer, author: 'me@example.com', title: 'first', content: 'c' })
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = await reviews.create({ book_id: two, user_id: writer, author: 'Me', title: 'second', content: 'c' })
    const theirs = await reviews.create({ book_id: one, user_id: other, author: 'Them', title: 'theirs', content: 'c' })
    const listed = await reviews.listByUser(writer)
    t.same(listed.map((r) => r.id), [second.id, first.id])
    t.notOk(listed.some((r) => 'user_id' in r || 'version' in r), 'as clients see them: no writer id, no version')
    t.same(listed[1], { id: first.id, book_id: one, author: 'me@example.com', title: 'first', content: 'c', created_at: first.created_at, updated_at: first.updated_at })
    t.same(await reviews.listByUser(writer + 2), [])
    t.equal(await reviews.deleteByUser(writer), 2)
    t.same(await reviews.listByUser(writer), [])
    t.equal(await reviews.get(first.id), undefined)
    t.equal(await reviews.deleteByUser(writer), 0, 'again: nothing to do, no error')
    t.same(await reviews.get(theirs.id), theirs, 'another writer’s review stays')
  })
}
