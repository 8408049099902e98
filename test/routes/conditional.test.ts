import { randomUUID } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { Book } from '../../src/schemas/book'
import { SAMPLE_BOOK, bearer, build, errorBody, userWith } from '../support/app'

/** The contract's "Caching and conditional requests", keyset pages and Link, on every route that has them. */

const STRONG_ETAG = /^"[\w-]+"$/
const PRECONDITION_FAILED = errorBody(412, 'PRECONDITION_FAILED', 'Precondition Failed', 'If-Match does not list the current ETag; read the resource again')
const BOOK_NOT_FOUND = errorBody(404, 'BOOK_NOT_FOUND', 'Not Found', 'Book not found')

function validated (t: Test, res: LightMyRequestResponse, what: string): string {
  t.equal(res.statusCode, 200, `${what}: 200`)
  t.match(res.headers.etag, STRONG_ETAG, `${what}: a strong ETag`)
  t.equal(res.headers['cache-control'], 'no-cache', `${what}: Cache-Control: no-cache`)
  return String(res.headers.etag)
}

/** GET with If-None-Match: 304 with no body when it lists the ETag, else the 200 again. */
async function revalidates (t: Test, app: FastifyInstance, url: string, etag: string): Promise<void> {
  for (const header of [etag, '*', `W/${etag}`, `"other", ${etag}`]) {
    const res = await app.inject({ url, headers: { 'if-none-match': header } })
    t.equal(res.statusCode, 304, `${url} If-None-Match: ${header} → 304`)
    t.equal(res.body, '', 'no body')
    t.equal(res.headers.etag, etag, '304 carries the ETag')
  }
  const other = await app.inject({ url, headers: { 'if-none-match': '"something-else"' } })
  t.equal(other.statusCode, 200, 'another ETag → 200')
  t.equal(other.headers.etag, etag)
}

t.test('conditional requests and pages', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const headers = bearer(author.token)
  const tag = randomUUID().slice(0, 8)
  const created: Book[] = []
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ method: 'POST', url: '/books', headers, payload: { ...SAMPLE_BOOK, title: `Paged ${tag} ${i}` } })
    t.equal(res.statusCode, 201)
    t.match(res.headers.etag, STRONG_ETAG, 'POST answers the ETag of the stored book')
    created.push(res.json<Book>())
  }
  const [first, second] = created as [Book, Book]

  t.test('a book: ETag, no-cache, 304, a new ETag after a write, and PUT answers it', async (t) => {
    const url = `/books/${first.id}`
    const etag = validated(t, await app.inject({ url }), `GET ${url}`)
    t.equal(validated(t, await app.inject({ url }), 'again (cached)'), etag, 'the same bytes, the same ETag')
    await revalidates(t, app, url, etag)

    const put = await app.inject({ method: 'PUT', url, headers, payload: { ...SAMPLE_BOOK, title: `Renamed ${tag}` } })
    t.equal(put.statusCode, 200)
    t.not(put.headers.etag, etag, 'the ETag changed with the body')
    t.equal(validated(t, await app.inject({ url }), 'after the PUT'), put.headers.etag, 'GET answers the ETag the PUT did')
    t.equal((await app.inject({ url, headers: { 'if-none-match': etag } })).statusCode, 200, 'the old ETag no longer revalidates')
  })

  t.test('If-Match on PUT and DELETE of a book: 412 and nothing changes unless it lists the current ETag', async (t) => {
    const url = `/books/${second.id}`
    const etag = validated(t, await app.inject({ url }), `GET ${url}`)
    const stale = await app.inject({ method: 'PUT', url, headers: { ...headers, 'if-match': '"stale"' }, payload: { ...SAMPLE_BOOK, title: 'Lost' } })
    t.same([stale.statusCode, stale.json()], [412, PRECONDITION_FAILED])
    t.equal((await app.inject({ url })).json<Book>().title, second.title, 'unchanged')
    t.equal((await app.inject({ method: 'PUT', url, headers: { ...headers, 'if-match': `W/${etag}` }, payload: SAMPLE_BOOK })).statusCode, 412,
      'a weak tag never matches If-Match')

    const ok = await app.inject({ method: 'PUT', url, headers: { ...headers, 'if-match': `"x", ${etag}` }, payload: { ...SAMPLE_BOOK, title: `Kept ${tag}` } })
    t.equal(ok.statusCode, 200, 'a list holding the current ETag')
    const reused = await app.inject({ method: 'PUT', url, headers: { ...headers, 'if-match': etag }, payload: SAMPLE_BOOK })
    t.same([reused.statusCode, reused.json()], [412, PRECONDITION_FAILED], 'the ETag before that write is stale now')
    t.equal((await app.inject({ method: 'PUT', url, headers: { ...headers, 'if-match': '*' }, payload: { ...SAMPLE_BOOK, title: `Kept ${tag}` } })).statusCode, 200, '* matches any current book')

    const current = String((await app.inject({ url })).headers.etag)
    t.same((await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': '"stale"' } })).json(), PRECONDITION_FAILED)
    t.equal((await app.inject({ url })).statusCode, 200, 'not deleted')
    t.equal((await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': current } })).statusCode, 204)
    for (const method of ['PUT', 'DELETE'] as const) {
      const gone = await app.inject({ method, url, headers: { ...headers, 'if-match': current }, ...(method === 'PUT' ? { payload: SAMPLE_BOOK } : {}) })
      t.same([gone.statusCode, gone.json()], [404, BOOK_NOT_FOUND], `${method} of a missing book is 404 whatever If-Match says`)
    }
  })

  t.test('two PUTs with the same If-Match at the same moment: one 200, one 412', async (t) => {
    const url = `/books/${created[2]?.id ?? 0}`
    for (let round = 0; round < 5; round++) {
      const etag = String((await app.inject({ url })).headers.etag)
      const results = await Promise.all(['A', 'B'].map((who) => app.inject({
        method: 'PUT', url, headers: { ...headers, 'if-match': etag }, payload: { ...SAMPLE_BOOK, title: `Paged ${tag} 2 race ${round} ${who}` }
      })))
      t.same(results.map((r) => r.statusCode).sort(), [200, 412], `round ${round}`)
      const winner = results.find((r) => r.statusCode === 200)
      t.equal((await app.inject({ url })).json<Book>().title, winner?.json<Book>().title, 'the winner’s write is the one stored')
    }
  })

  t.test('a page: ETag, 304, a new ETag after a write; Link on a full page, keeping q and limit', async (t) => {
    const url = `/books?q=${encodeURIComponent(`paged ${tag}`)}&limit=2`
    const res = await app.inject({ url })
    const etag = validated(t, res, 'GET /books')
    await revalidates(t, app, url, etag)
    const ids = created.slice(2).map((b) => b.id)
    t.same(res.json<Book[]>().map((b) => b.id), ids.slice(0, 2))
    t.equal(res.headers.link, `</books?after=${ids[1]}&limit=2&q=${encodeURIComponent(`paged ${tag}`)}>; rel="next"`)

    const next = await app.inject({ url: String(res.headers.link).slice(1, String(res.headers.link).indexOf('>')) })
    t.same(next.json<Book[]>().map((b) => b.id), ids.slice(2), 'the link leads to the rest')
    t.equal(next.headers.link, undefined, 'a page that is not full has no next')

    const all = url.replace('limit=2', 'limit=100')
    const before = String((await app.inject({ url: all })).headers.etag)
    await app.inject({ method: 'POST', url: '/books', headers, payload: { ...SAMPLE_BOOK, title: `Paged ${tag} late` } })
    const grown = await app.inject({ url: all })
    t.equal(grown.json<Book[]>().length, 4, 'the new book is listed')
    t.not(grown.headers.etag, before, 'the page changed, and so did its ETag')
    t.equal((await app.inject({ url: all, headers: { 'if-none-match': before } })).statusCode, 200, 'the old ETag no longer revalidates')
  })

  t.test('after pages by key; o and after together, or out of range, are 400', async (t) => {
    const ids = created.slice(2).map((b) => b.id)
    const page = await app.inject({ url: `/books?after=${ids[0]}&limit=1&q=${encodeURIComponent(`Paged ${tag}`)}` })
    t.same(page.json<Book[]>().map((b) => b.id), [ids[1]])
    const both = await app.inject({ url: '/books?o=1&after=1' })
    t.equal(both.statusCode, 400)
    t.same(both.json(), {
      ...errorBody(400, 'VALIDATION_ERROR', 'Bad Request', 'querystring/after cannot be combined with o'),
      details: [{ path: '/after', message: 'cannot be combined with o' }]
    })
    for (const qs of ['o=1e20', 'o=2147483648', 'o=-1', 'after=-1', 'after=2147483648', 'after=x']) {
      const res = await app.inject({ url: `/books?${qs}` })
      t.equal(res.statusCode, 400, qs)
      t.equal(res.json().code, 'VALIDATION_ERROR', qs)
    }
    t.equal((await app.inject({ url: '/books?o=2147483647' })).statusCode, 200, 'the largest offset is a (probably empty) page')
  })

  t.test('reviews: ETag, 304, If-Match, and Link by offset', async (t) => {
    const book = created[3] as Book
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({ method: 'POST', url: '/reviews', headers, payload: { book_id: book.id, title: `R${i}`, content: 'c' } })
      t.match(res.headers.etag, STRONG_ETAG)
      ids.push(res.json<{ id: string }>().id)
    }
    const list = `/books/${book.id}/reviews?limit=2`
    const page = await app.inject({ url: list })
    await revalidates(t, app, list, validated(t, page, 'GET reviews'))
    t.equal(page.headers.link, `</books/${book.id}/reviews?o=2&limit=2>; rel="next"`)
    const rest = await app.inject({ url: `/books/${book.id}/reviews?o=2&limit=2` })
    t.equal(rest.json<unknown[]>().length, 1)
    t.equal(rest.headers.link, undefined)

    const url = `/reviews/${ids[0]}`
    const etag = validated(t, await app.inject({ url }), 'GET review')
    await revalidates(t, app, url, etag)
    const stale = await app.inject({ method: 'PUT', url, headers: { ...headers, 'if-match': '"stale"' }, payload: { title: 'x', content: 'y' } })
    t.same([stale.statusCode, stale.json()], [412, PRECONDITION_FAILED])
    const race = await Promise.all(['A', 'B'].map((who) => app.inject({
      method: 'PUT', url, headers: { ...headers, 'if-match': etag }, payload: { title: who, content: who }
    })))
    t.same(race.map((r) => r.statusCode).sort(), [200, 412], 'two PUTs with one If-Match: one wins')
    const now = validated(t, await app.inject({ url }), 'after the race')
    t.equal(now, race.find((r) => r.statusCode === 200)?.headers.etag, 'PUT answered the new ETag')
    t.equal((await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': etag } })).statusCode, 412)
    t.equal((await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': now } })).statusCode, 204)
  })
})
