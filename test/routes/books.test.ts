import t from 'tap'
import { SAMPLE_BOOK, bearer, build, errorBody, userWith } from '../support/app'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const BOOK_NOT_FOUND = errorBody(404, 'BOOK_NOT_FOUND', 'Not Found', 'Book not found')

t.test('book routes', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const user = await userWith(app, 1)
  const create = (payload: object, token = author.token) =>
    app.inject({ method: 'POST', url: '/books', headers: bearer(token), payload })

  t.test('POST /books answers 201, the stored book and a Location', async (t) => {
    const res = await create(SAMPLE_BOOK)
    t.equal(res.statusCode, 201)
    const book = res.json()
    t.same(book, { ...SAMPLE_BOOK, id: book.id, created_at: book.created_at, updated_at: book.created_at })
    t.match(book.created_at, ISO_UTC)
    t.equal(res.headers.location, `/books/${book.id}`)
    t.same((await app.inject({ url: `/books/${book.id}` })).json(), book, 'GET answers the same book')
  })

  t.test('POST /books with only the required fields stores nulls', async (t) => {
    const res = await create({ title: 'T', author: 'A' })
    t.equal(res.statusCode, 201)
    t.match(res.json(), { title: 'T', author: 'A', published_at: null, description: null, isbn: null, total_pages: null })
  })

  const invalid: Array<[string, object, string]> = [
    ['a missing title', { author: 'A' }, '/title'],
    ['an empty title', { ...SAMPLE_BOOK, title: '' }, '/title'],
    ['a 256-character author', { ...SAMPLE_BOOK, author: 'a'.repeat(256) }, '/author'],
    ['a description over 10,000 characters', { ...SAMPLE_BOOK, description: 'd'.repeat(10001) }, '/description'],
    ['a date with a time part', { ...SAMPLE_BOOK, published_at: '2003-01-01T00:00:00Z' }, '/published_at'],
    ['an impossible date', { ...SAMPLE_BOOK, published_at: '2003-02-30' }, '/published_at'],
    ['a numeric string for pages (no coercion)', { ...SAMPLE_BOOK, total_pages: '100' }, '/total_pages'],
    ['zero pages', { ...SAMPLE_BOOK, total_pages: 0 }, '/total_pages'],
    ['fractional pages', { ...SAMPLE_BOOK, total_pages: 1.5 }, '/total_pages'],
    ['null where a string is due', { ...SAMPLE_BOOK, title: null }, '/title'],
    ['an array where a string is due', { ...SAMPLE_BOOK, title: ['x'] }, '/title'],
    ['a number where a string is due', { ...SAMPLE_BOOK, author: 12 }, '/author'],
    ['an ISBN with letters', { ...SAMPLE_BOOK, isbn: '12345abc90' }, '/isbn'],
    ['an ISBN too short', { ...SAMPLE_BOOK, isbn: '123456789' }, '/isbn'],
    ['an ISBN too long', { ...SAMPLE_BOOK, isbn: '978-0-14-143951-8-1' }, '/isbn'],
    ['an X that is not last', { ...SAMPLE_BOOK, isbn: '12345X7890' }, '/isbn'],
    ['an unknown field', { ...SAMPLE_BOOK, rating: 5 }, '/rating'],
    ['an id in the body', { ...SAMPLE_BOOK, id: 99 }, '/id']
  ]
  for (const [what, payload, path] of invalid) {
    t.test(`POST /books refuses ${what}`, async (t) => {
      const res = await create(payload)
      t.equal(res.statusCode, 400)
      const body = res.json()
      t.match(body, { statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request', message: String })
      t.ok(body.details.some((d: { path: string }) => d.path === path), `details name ${path}: ${JSON.stringify(body.details)}`)
    })
  }

  t.test('accepted ISBN forms', async (t) => {
    for (const isbn of ['123456789X', '978-0-14-143951-8', '9780141439518']) {
      t.equal((await create({ ...SAMPLE_BOOK, isbn })).statusCode, 201, isbn)
    }
  })

  t.test('nothing is written by a refused request', async (t) => {
    const before = (await app.inject({ url: '/books?limit=100' })).json().length
    await create({ ...SAMPLE_BOOK, total_pages: '100' })
    await create({ ...SAMPLE_BOOK, title: 'Shy' }, user.token)
    t.equal((await app.inject({ url: '/books?limit=100' })).json().length, before)
  })

  t.test('permissions on every write', async (t) => {
    const { id } = (await create(SAMPLE_BOOK)).json()
    for (const [method, url, payload] of [['POST', '/books', SAMPLE_BOOK], ['PUT', `/books/${id}`, SAMPLE_BOOK], ['DELETE', `/books/${id}`, undefined]] as const) {
      const anonymous = await app.inject({ method, url, ...(payload === undefined ? {} : { payload }) })
      t.equal(anonymous.statusCode, 401, `${method} without a token`)
      t.same(anonymous.json(), errorBody(401, 'TOKEN_REQUIRED', 'Unauthorized', 'Token is required'))
      const asUser = await app.inject({ method, url, headers: bearer(user.token), ...(payload === undefined ? {} : { payload }) })
      t.equal(asUser.statusCode, 403, `${method} as a User`)
      t.same(asUser.json(), errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized'))
    }
    const admin = await userWith(app, 3)
    t.equal((await create(SAMPLE_BOOK, admin.token)).statusCode, 201, 'Admin passes an Author route')
  })

  t.test('GET /books/:id: 404 and bad ids', async (t) => {
    const missing = await app.inject({ url: '/books/999999' })
    t.equal(missing.statusCode, 404)
    t.same(missing.json(), BOOK_NOT_FOUND)
    for (const id of ['abc', '0', '-1', '1.5', '99999999999']) {
      const res = await app.inject({ url: `/books/${id}` })
      t.equal(res.statusCode, 400, id)
      t.equal(res.json().code, 'VALIDATION_ERROR')
    }
  })

  t.test('PUT /books/:id replaces and answers the stored book', async (t) => {
    const original = (await create(SAMPLE_BOOK)).json()
    const res = await app.inject({ method: 'PUT', url: `/books/${original.id}`, headers: bearer(author.token), payload: { title: 'Renamed', author: 'Jane Roe', total_pages: 12 } })
    t.equal(res.statusCode, 200)
    const stored = res.json()
    t.same(stored, {
      id: original.id, title: 'Renamed', author: 'Jane Roe', published_at: null, description: null, isbn: null,
      total_pages: 12, created_at: original.created_at, updated_at: stored.updated_at
    })
    t.ok(stored.updated_at >= original.updated_at)
    t.same((await app.inject({ url: `/books/${original.id}` })).json(), stored)

    const missing = await app.inject({ method: 'PUT', url: '/books/999999', headers: bearer(author.token), payload: SAMPLE_BOOK })
    t.same(missing.json(), BOOK_NOT_FOUND)
    const invalid = await app.inject({ method: 'PUT', url: `/books/${original.id}`, headers: bearer(author.token), payload: { title: 'x' } })
    t.equal(invalid.statusCode, 400)
    t.equal((await app.inject({ url: `/books/${original.id}` })).json().title, 'Renamed', 'a refused PUT changes nothing')
  })

  t.test('DELETE /books/:id answers 204, then 404', async (t) => {
    const { id } = (await create(SAMPLE_BOOK)).json()
    const res = await app.inject({ method: 'DELETE', url: `/books/${id}`, headers: bearer(author.token) })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.same((await app.inject({ url: `/books/${id}` })).json(), BOOK_NOT_FOUND)
    t.same((await app.inject({ method: 'DELETE', url: `/books/${id}`, headers: bearer(author.token) })).json(), BOOK_NOT_FOUND)
  })
})

t.test('GET /books pages and searches', async (t) => {
  const app = await build(t, { pageSize: 5 })
  const author = await userWith(app, 2)
  const ids: number[] = []
  for (let i = 1; i <= 12; i++) {
    const title = i % 3 === 0 ? `The 100% Pure_Tale ${i}` : `Ordinary ${i}`
    const res = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { title, author: i === 4 ? 'Ödön von Horváth' : 'Someone' } })
    ids.push(res.json().id)
  }
  const list = async (qs: string) => {
    const res = await app.inject({ url: `/books${qs}` })
    t.equal(res.statusCode, 200, qs)
    return res.json().map((b: { id: number }) => b.id)
  }
  t.same(await list(''), ids.slice(0, 5), 'default page size from config, ordered by id')
  t.same(await list('?o=5'), ids.slice(5, 10))
  t.same(await list('?o=10&limit=100'), ids.slice(10))
  t.same(await list('?limit=1&o=3'), [ids[3]])
  t.same(await list('?o=50'), [])
  t.same(await list('?q=pure_tale&limit=100'), [ids[2], ids[5], ids[8], ids[11]], 'case-insensitive substring')
  t.same(await list('?q=100%25&limit=100'), [ids[2], ids[5], ids[8], ids[11]], 'a literal %')
  t.same(await list('?q=%25&limit=100'), [ids[2], ids[5], ids[8], ids[11]], '% alone matches only a real %')
  t.same(await list('?q=_&limit=100'), [ids[2], ids[5], ids[8], ids[11]], '_ alone matches only a real _')
  t.same(await list('?q=%C3%B6D%C3%B6N'), [ids[3]], 'author, non-ASCII case-insensitive')
  t.same(await list('?q=nothing-like-this'), [])
  t.same(await list('?q=pure&limit=2&o=1'), [ids[5], ids[8]], 'search pages too')

  for (const qs of ['?limit=0', '?limit=101', '?limit=abc', '?o=-1', '?o=1.5', '?limit=5.5', '?unknown=1']) {
    const res = await app.inject({ url: `/books${qs}` })
    t.equal(res.statusCode, 400, `${qs} is refused, not clamped`)
    t.equal(res.json().code, 'VALIDATION_ERROR')
  }
})

t.test('the cache never hides a write from any read path', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const headers = bearer(author.token)
  const read = async () => ({
    page: (await app.inject({ url: '/books' })).json(),
    search: (await app.inject({ url: '/books?q=coherent' })).json(),
    limited: (await app.inject({ url: '/books?limit=1' })).json()
  })
  t.same(await read(), { page: [], search: [], limited: [] }, 'warm the cache with empty pages')

  const book = (await app.inject({ method: 'POST', url: '/books', headers, payload: { title: 'Coherent', author: 'A' } })).json()
  t.same(await read(), { page: [book], search: [book], limited: [book] }, 'a create is visible at once')
  t.same((await app.inject({ url: `/books/${book.id}` })).json(), book)

  const updated = (await app.inject({ method: 'PUT', url: `/books/${book.id}`, headers, payload: { title: 'Coherent again', author: 'B' } })).json()
  t.same(await read(), { page: [updated], search: [updated], limited: [updated] }, 'an update is visible at once')
  t.same((await app.inject({ url: `/books/${book.id}` })).json(), updated, 'the single book too')

  t.equal((await app.inject({ method: 'DELETE', url: `/books/${book.id}`, headers })).statusCode, 204)
  t.same(await read(), { page: [], search: [], limited: [] }, 'a delete is visible at once')
  t.equal((await app.inject({ url: `/books/${book.id}` })).statusCode, 404)
})

t.test('a failing cache falls back to the store, never 5xx', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const broken = async (): Promise<never> => { throw new Error('cache down') }
  Object.assign(app.cache, { get: broken, set: broken, incr: broken, peek: broken, del: broken })
  const created = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })
  t.equal(created.statusCode, 201)
  t.same((await app.inject({ url: '/books' })).json(), [created.json()])
  t.same((await app.inject({ url: `/books/${created.json().id}` })).json(), created.json())
})
