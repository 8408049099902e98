import t from 'tap'
import { SAMPLE_BOOK, bearer, build, errorBody, userWith } from '../support/app'

t.test('every error has the one shape', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const headers = bearer(author.token)

  t.test('unknown route', async (t) => {
    const res = await app.inject({ url: '/nowhere?x=1' })
    t.equal(res.statusCode, 404)
    t.same(res.json(), errorBody(404, 'ROUTE_NOT_FOUND', 'Not Found', 'Route GET /nowhere not found'))
  })

  t.test('malformed JSON', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/books', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"title": "x",' })
    t.equal(res.statusCode, 400)
    t.same(res.json(), errorBody(400, 'INVALID_JSON', 'Bad Request', 'The request body is not valid JSON'))
  })

  t.test('empty JSON body', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/books', headers: { ...headers, 'content-type': 'application/json' }, payload: '' })
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'INVALID_JSON')
  })

  t.test('a body that is not an object', async (t) => {
    for (const payload of ['[]', '"text"', '42', 'null']) {
      const res = await app.inject({ method: 'POST', url: '/books', headers: { ...headers, 'content-type': 'application/json' }, payload })
      t.equal(res.statusCode, 400, payload)
      t.equal(res.json().code, 'VALIDATION_ERROR', payload)
    }
  })

  t.test('wrong content type is 415', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/books', headers: { ...headers, 'content-type': 'text/plain' }, payload: 'title=x' })
    t.equal(res.statusCode, 415)
    t.same(res.json(), errorBody(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type', 'Send the body as application/json'))
  })

  t.test('a body over 64 KiB is 413', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/books', headers, payload: { ...SAMPLE_BOOK, description: 'x'.repeat(70 * 1024) } })
    t.equal(res.statusCode, 413)
    t.same(res.json(), errorBody(413, 'PAYLOAD_TOO_LARGE', 'Payload Too Large', 'The request body is larger than 64 KiB'))
  })

  t.test('a validation error lists every problem', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/books', headers, payload: { title: 5, total_pages: -1, extra: true } })
    t.equal(res.statusCode, 400)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['code', 'details', 'error', 'message', 'statusCode'])
    t.same(body.details.map((d: { path: string }) => d.path).sort(), ['/author', '/extra', '/title', '/total_pages'])
    t.ok(body.details.every((d: { message: unknown }) => typeof d.message === 'string' && d.message.length > 0))
  })

  t.test('an internal error hides its text and answers the request id', async (t) => {
    // The primary's store fails: an app of its own, without the run's replicas (scripts/ha-routes.ts), if any.
    const failing = await build(t, { databaseReplicaUrls: [] })
    failing.stores.books.list = async () => { throw new Error('SQLITE_ERROR: no such table: books at /srv/app/dist/stores.js:42') }
    const res = await failing.inject({ url: '/books?q=boom', headers: { 'x-request-id': 'trace-me-123' } })
    t.equal(res.statusCode, 500)
    t.same(res.json(), {
      ...errorBody(500, 'INTERNAL_ERROR', 'Internal Server Error', 'Something went wrong on our side; quote the request id when reporting it'),
      request_id: 'trace-me-123'
    })
    t.notMatch(res.body, /SQLITE|stores\.js|no such table/)
  })

  t.test('the request id is honoured when sane, minted otherwise', async (t) => {
    const given = await app.inject({ url: '/', headers: { 'x-request-id': 'abc-123' } })
    t.equal(given.headers['x-request-id'], 'abc-123')
    const insane = await app.inject({ url: '/', headers: { 'x-request-id': 'bad id with spaces\n' } })
    t.match(insane.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  })
})

t.test('URL errors: the contract\'s shape and codes, the URL never echoed, x-request-id always', async (t) => {
  const app = await build(t)
  const url = (res: { body: string }, needle: string): void => { t.notOk(res.body.includes(needle), 'the URL is not echoed') }

  const badEncoding = ['/books/%ff', '/books/%zz', '/bo%ffoks', '/books?q=%ff', '/books?q=%e2%82', '/books/1/reviews?q=100%', '/books?q=ok&x=%']
  for (const target of badEncoding) {
    const res = await app.inject({ url: target, headers: { 'x-request-id': 'url-check-1' } })
    t.equal(res.statusCode, 400, target)
    t.same(res.json(), errorBody(400, 'VALIDATION_ERROR', 'Bad Request', 'The URL is not valid: bad percent-encoding'), target)
    t.equal(res.headers['x-request-id'], 'url-check-1', `${target}: x-request-id`)
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${target}: security headers`)
    url(res, '%')
  }
  const fine = await app.inject({ url: '/books?q=%E2%82%AC' })
  t.equal(fine.statusCode, 200, 'good percent-encoding (€) still searches')

  const longParam = '1'.repeat(101)
  for (const target of [`/books/${longParam}`, `/reviews/${'a'.repeat(101)}`, `/users/me/sessions/${'s'.repeat(101)}`, `/books/${'9'.repeat(400)}`]) {
    const res = await app.inject({ method: target.includes('sessions') ? 'DELETE' : 'GET', url: target })
    t.equal(res.statusCode, 414, `${target.slice(0, 30)}...: a path parameter over 100 characters`)
    t.same(res.json(), errorBody(414, 'URI_TOO_LONG', 'URI Too Long', 'A path parameter is longer than 100 characters'))
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/)
    url(res, '1111111111')
  }
  const hundred = await app.inject({ url: `/books/${'1'.repeat(100)}` })
  t.equal(hundred.statusCode, 400, '100 characters is within the limit: the schema answers')
  t.equal(hundred.json().code, 'VALIDATION_ERROR')

  const longUrl = `/books?q=${'x'.repeat(2040)}`
  t.ok(longUrl.length > 2048)
  const long = await app.inject({ url: longUrl })
  t.equal(long.statusCode, 414, 'a URL over 2,048 characters')
  t.same(long.json(), errorBody(414, 'URI_TOO_LONG', 'URI Too Long', 'The URL is longer than 2048 characters'))
  t.match(long.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  url(long, 'xxxxxxxxxx')
  const atLimit = await app.inject({ url: `/books?x=${'x'.repeat(2048 - '/books?x='.length)}` })
  t.equal(atLimit.statusCode, 400, 'exactly 2,048 characters passes the URL check (the unknown query field is the schema\'s 400)')
  t.equal(atLimit.json().code, 'VALIDATION_ERROR')
})

t.test('every integer parameter is bounded: out-of-range values are 400, never a 5xx', async (t) => {
  const app = await build(t)
  const admin = await userWith(app, 3)
  const headers = bearer(admin.token)
  const book = await app.inject({ method: 'POST', url: '/books', headers, payload: SAMPLE_BOOK })
  t.equal(book.statusCode, 201)
  const bookId = book.json<{ id: number }>().id

  // In a URL: too big for SQL's INT, far too big for a double, negative, fractional, not a number.
  const bad = ['2147483648', '9'.repeat(99), '1e400', '-1', '1.5', 'NaN', 'Infinity', '']
  const urls = (value: string): string[] => [
    `/books/${value}`, `/books/${value}/reviews`, `/users/${value}`,
    `/books?o=${value}`, `/books?after=${value}`, `/books?limit=${value}`,
    `/books/${bookId}/reviews?o=${value}`, `/books/${bookId}/reviews?limit=${value}`,
    `/users?o=${value}`, `/users?limit=${value}`
  ]
  for (const value of bad) {
    for (const target of urls(value)) {
      const res = await app.inject({ url: target, headers })
      // `/books/` with an empty id is the list itself, `/users/` likewise.
      if (value === '' && /^\/(books|users)\/$/.test(target)) continue
      t.ok(res.statusCode === 400 || (value === '' && res.statusCode === 404), `${target} → ${res.statusCode}`)
      if (res.statusCode === 400) t.equal(res.json().code, 'VALIDATION_ERROR', target)
    }
  }
  // The largest allowed values still work: an empty page, a missing book or user.
  for (const [target, status] of [
    ['/books?o=2147483647', 200], ['/books?after=2147483647', 200], ['/books?limit=100', 200],
    ['/books/2147483647', 404], ['/users/2147483647', 404], [`/books/${bookId}/reviews?o=2147483647`, 200], ['/users?o=2147483647', 200]
  ] as const) {
    t.equal((await app.inject({ url: target, headers })).statusCode, status, target)
  }

  // In a body: JSON numbers past every limit (1e400 parses as Infinity).
  const json = { ...headers, 'content-type': 'application/json' }
  const bodies: Array<[string, string, string]> = [
    ['POST', '/books', '{"title":"t","author":"a","total_pages":1e400}'],
    ['POST', '/books', '{"title":"t","author":"a","total_pages":2147483648}'],
    ['POST', '/books', '{"title":"t","author":"a","total_pages":-1}'],
    ['PUT', `/books/${bookId}`, '{"title":"t","author":"a","total_pages":99999999999999999999999}'],
    ['POST', '/reviews', '{"book_id":1e400,"title":"t","content":"c"}'],
    ['POST', '/reviews', '{"book_id":2147483648,"title":"t","content":"c"}'],
    ['POST', '/reviews', '{"book_id":1.5,"title":"t","content":"c"}'],
    ['PATCH', `/users/${admin.id}`, '{"permission":1e400}'],
    ['PATCH', `/users/${admin.id}`, '{"permission":4}'],
    ['PATCH', `/users/${admin.id}`, '{"permission":-1}']
  ]
  for (const [method, target, payload] of bodies) {
    const res = await app.inject({ method: method as 'POST', url: target, headers: json, payload })
    t.equal(res.statusCode, 400, `${method} ${target} ${payload}`)
    t.equal(res.json().code, 'VALIDATION_ERROR')
  }
  const max = await app.inject({ method: 'POST', url: '/books', headers, payload: { ...SAMPLE_BOOK, total_pages: 2147483647 } })
  t.equal(max.statusCode, 201, 'total_pages at its limit is stored')
  t.equal(max.json().total_pages, 2147483647)
})
