import { randomUUID } from 'node:crypto'
import t from 'tap'
import { SAMPLE_BOOK, bearer, build, errorBody, userWith } from '../support/app'

const REUSED = errorBody(422, 'IDEMPOTENCY_KEY_REUSED', 'Unprocessable Entity', 'This Idempotency-Key was already used with another request body')
const IN_USE = errorBody(409, 'IDEMPOTENCY_KEY_IN_USE', 'Conflict', 'A request with this Idempotency-Key is still being processed; retry shortly')

/** A promise and the function that settles it, to hold a request in flight. */
function gate (): { wait: Promise<void>, open: () => void } {
  let open = (): void => {}
  const wait = new Promise<void>((resolve) => { open = resolve })
  return { wait, open }
}

t.test('idempotent creation', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const other = await userWith(app, 2)
  const count = async (tag: string): Promise<number> =>
    (await app.inject({ url: `/books?q=${tag}&limit=100` })).json<unknown[]>().length
  const post = (key: string | undefined, payload: object, token = author.token) => app.inject({
    method: 'POST', url: '/books', payload, headers: { ...bearer(token), ...(key === undefined ? {} : { 'idempotency-key': key }) }
  })

  t.test('a repeat with the same key and body replays the first success and creates nothing', async (t) => {
    const tag = randomUUID().slice(0, 8)
    const key = `create-${tag}`
    const first = await post(key, { ...SAMPLE_BOOK, title: `Once ${tag}` })
    t.equal(first.statusCode, 201)
    t.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is no replay')
    const again = await post(key, { ...SAMPLE_BOOK, title: `Once ${tag}` })
    t.equal(again.statusCode, 201)
    t.same(again.json(), first.json(), 'the same body, the same id')
    t.equal(again.headers.location, first.headers.location)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.match(again.headers['content-type'], /^application\/json; charset=utf-8$/)
    t.equal(await count(tag), 1, 'one book')
    // Key order is not part of the body's meaning.
    const reordered = Object.fromEntries(Object.entries({ ...SAMPLE_BOOK, title: `Once ${tag}` }).reverse())
    t.equal((await post(key, reordered)).headers['idempotent-replayed'], 'true', 'the same fields in another order replay')
  })

  t.test('the same key with another body is 422 and creates nothing', async (t) => {
    const tag = randomUUID().slice(0, 8)
    const key = `reuse-${tag}`
    t.equal((await post(key, { ...SAMPLE_BOOK, title: `First ${tag}` })).statusCode, 201)
    const res = await post(key, { ...SAMPLE_BOOK, title: `Second ${tag}` })
    t.equal(res.statusCode, 422)
    t.same(res.json(), REUSED)
    t.equal(await count(tag), 1)
  })

  t.test('keys belong to their user', async (t) => {
    const tag = randomUUID().slice(0, 8)
    const key = `mine-${tag}`
    const mine = await post(key, { ...SAMPLE_BOOK, title: `Mine ${tag}` })
    const theirs = await post(key, { ...SAMPLE_BOOK, title: `Mine ${tag}` }, other.token)
    t.equal(theirs.statusCode, 201)
    t.equal(theirs.headers['idempotent-replayed'], undefined, 'another user with the same key creates')
    t.not(theirs.json().id, mine.json().id)
    t.equal(await count(tag), 2)
  })

  t.test('without a key every request creates', async (t) => {
    const tag = randomUUID().slice(0, 8)
    await post(undefined, { ...SAMPLE_BOOK, title: `Plain ${tag}` })
    await post(undefined, { ...SAMPLE_BOOK, title: `Plain ${tag}` })
    t.equal(await count(tag), 2)
  })

  t.test('a failed request is not remembered: the key can be retried', async (t) => {
    const tag = randomUUID().slice(0, 8)
    const key = `retry-${tag}`
    const bad = await post(key, { ...SAMPLE_BOOK, title: '' })
    t.equal(bad.statusCode, 400)
    const forbidden = await post(key, { ...SAMPLE_BOOK, title: `Retry ${tag}` }, (await userWith(app, 1)).token)
    t.equal(forbidden.statusCode, 403)
    const original = app.books.create
    Object.assign(app.books, { create: async () => { throw new Error('database exploded') } })
    const failed = await post(key, { ...SAMPLE_BOOK, title: `Retry ${tag}` })
    Object.assign(app.books, { create: original })
    t.equal(failed.statusCode, 500)
    const ok = await post(key, { ...SAMPLE_BOOK, title: `Retry ${tag}` })
    t.equal(ok.statusCode, 201, 'the retry after 400 and 500 creates')
    t.equal(ok.headers['idempotent-replayed'], undefined)
    t.equal(await count(tag), 1)
  })

  t.test('a repeat while the first is in flight is 409; after it, a replay', async (t) => {
    const tag = randomUUID().slice(0, 8)
    const key = `flight-${tag}`
    const held = gate()
    const original = app.books.create
    Object.assign(app.books, { create: async (...args: Parameters<typeof original>) => { await held.wait; return original(...args) } })
    t.teardown(() => { Object.assign(app.books, { create: original }) })
    const first = post(key, { ...SAMPLE_BOOK, title: `Flight ${tag}` })
    await new Promise((resolve) => setTimeout(resolve, 50))
    const during = await post(key, { ...SAMPLE_BOOK, title: `Flight ${tag}` })
    t.equal(during.statusCode, 409)
    t.same(during.json(), IN_USE)
    held.open()
    t.equal((await first).statusCode, 201)
    Object.assign(app.books, { create: original })
    const after = await post(key, { ...SAMPLE_BOOK, title: `Flight ${tag}` })
    t.equal(after.statusCode, 201)
    t.equal(after.headers['idempotent-replayed'], 'true')
    t.same(after.json(), (await first).json())
    t.equal(await count(tag), 1)
  })

  t.test('the key must be 1 to 255 visible ASCII characters', async (t) => {
    for (const [what, key] of [['empty', ''], ['256 characters', 'k'.repeat(256)], ['a space', 'a b'], ['non-ASCII', 'clé']] as const) {
      const res = await post(key, SAMPLE_BOOK)
      t.equal(res.statusCode, 400, what)
      t.match(res.json(), { statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request', details: [{ path: '/idempotency-key' }] }, what)
    }
    t.equal((await post('k'.repeat(255), { ...SAMPLE_BOOK, title: randomUUID() })).statusCode, 201, '255 characters are fine')
  })

  t.test('POST /reviews replays too', async (t) => {
    const book = (await post(undefined, { ...SAMPLE_BOOK, title: `Reviewed ${randomUUID()}` })).json<{ id: number }>()
    const reviewer = await userWith(app, 1)
    const key = randomUUID()
    const review = (payload: object) => app.inject({
      method: 'POST', url: '/reviews', payload, headers: { ...bearer(reviewer.token), 'idempotency-key': key }
    })
    const first = await review({ book_id: book.id, title: 'Good', content: 'Very good' })
    t.equal(first.statusCode, 201)
    const again = await review({ book_id: book.id, title: 'Good', content: 'Very good' })
    t.equal(again.statusCode, 201)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.same(again.json(), first.json())
    t.equal(again.headers.location, `/reviews/${first.json().id}`)
    const reused = await review({ book_id: book.id, title: 'Bad', content: 'Very bad' })
    t.equal(reused.statusCode, 422)
    t.same(reused.json(), REUSED)
    t.equal((await app.inject({ url: `/books/${book.id}/reviews` })).json<unknown[]>().length, 1)
  })
})
