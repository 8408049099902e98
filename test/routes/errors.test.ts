import t from 'tap'
import { SAMPLE_BOOK, bearer, build, errorBody, userWith } from '../helper'

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
    const original = app.stores.books.list
    app.stores.books.list = async () => { throw new Error('SQLITE_ERROR: no such table: books at /srv/app/dist/stores.js:42') }
    t.teardown(() => { app.stores.books.list = original })
    const res = await app.inject({ url: '/books?q=boom', headers: { 'x-request-id': 'trace-me-123' } })
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
