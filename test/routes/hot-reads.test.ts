import type { FastifyInstance } from 'fastify'
import { once } from 'node:events'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import t from 'tap'
import { Permission } from '../../src/domain/permission'
import { SAMPLE_BOOK, bearer, build, errorBody, scrapeMetrics, userWith } from '../support/app'

/**
 * Cached reads answered before Fastify (src/http/hot-reads.ts) must be the route's answers:
 * the same status, headers and body, as fresh as the route's, counted and refused alike. These
 * go over real HTTP (inject calls Fastify's handler directly, past the hot path) and count the
 * requests that reached Fastify's hooks, so each check knows which path answered.
 */

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: string }

function get (app: FastifyInstance, url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const { port } = app.server.address() as { port: number }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: url, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

/** Every header but those that differ between any two answers (the request id, the date). */
const lasting = ({ headers }: Answer): Record<string, unknown> =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'x-request-id' && name !== 'date'))

const ORIGIN = 'https://app.example'

t.test('hot reads', async (t) => {
  let reachedFastify = 0
  const app = await build(t, { corsOrigins: ORIGIN, metricsPort: 9465 }, {
    beforeReady: (app) => app.addHook('onRequest', (_request, _reply, done) => { reachedFastify++; done() })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const author = await userWith(app, Permission.Author)
  const created = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })
  const id = (created.json<{ id: number }>()).id
  const url = `/books/${id}`
  /** GETs `url` and says whether Fastify answered it. */
  const through = async (path: string, headers: Record<string, string> = {}): Promise<Answer & { fastify: boolean }> => {
    const before = reachedFastify
    const answer = await get(app, path, headers)
    return { ...answer, fastify: reachedFastify > before }
  }

  t.test('the second GET of a URL is answered before Fastify, with the route\'s very headers and body', async (t) => {
    const first = await through(url)
    const second = await through(url)
    t.equal(first.status, 200)
    t.ok(first.fastify, 'the first reached the route')
    t.notOk(second.fastify, 'the second did not')
    t.equal(second.status, 200)
    t.same(lasting(second), lasting(first), 'the same headers, CORS Vary and security headers included')
    t.equal(second.body, first.body)
    t.match(second.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'a request id of its own')
    t.not(second.headers['x-request-id'], first.headers['x-request-id'])
    const third = await through(url)
    t.notOk(third.fastify)
    t.not(third.headers['x-request-id'], second.headers['x-request-id'], 'each answer before Fastify with its own')
    t.same(lasting(third), lasting(first))
    t.equal((await through(url, { 'x-request-id': 'trace-me.1' })).headers['x-request-id'], 'trace-me.1', 'a sane request id is honoured, as by Fastify')
    t.equal(JSON.parse(second.body).title, SAMPLE_BOOK.title)
  })

  t.test('a list page and a search too, Link included', async (t) => {
    for (const path of ['/books?limit=1', `/books?q=${encodeURIComponent(SAMPLE_BOOK.title.slice(0, 4))}`]) {
      const first = await through(path)
      const second = await through(path)
      t.ok(first.fastify && !second.fastify, `${path}: the second before Fastify`)
      t.same(lasting(second), lasting(first))
      t.equal(second.body, first.body)
    }
    t.match((await through('/books?limit=1')).headers.link, /rel="next"/)
  })

  t.test('reviews: one, and a book\'s page of them; a changed review is seen at once', async (t) => {
    const posted = await app.inject({ method: 'POST', url: '/reviews', headers: bearer(author.token), payload: { book_id: id, title: 'Hot', content: 'first' } })
    t.equal(posted.statusCode, 201)
    const reviewUrl = posted.headers.location as string
    for (const path of [reviewUrl, `${url}/reviews`]) {
      const first = await through(path)
      const second = await through(path)
      t.ok(first.fastify && !second.fastify, `${path}: the second before Fastify`)
      t.same(lasting(second), lasting(first))
      t.equal(second.body, first.body)
    }
    t.equal((await app.inject({ method: 'PUT', url: reviewUrl, headers: bearer(author.token), payload: { title: 'Hot', content: 'second' } })).statusCode, 200)
    for (const path of [reviewUrl, `${url}/reviews`]) t.match((await through(path)).body, /"second"/, `${path}: the new content`)
  })

  t.test('a write is seen at once: the changed answer comes from the route, then hot again', async (t) => {
    await through(url)
    const before = await through(url)
    t.notOk(before.fastify)
    const put = await app.inject({ method: 'PUT', url, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: 'Changed' } })
    t.equal(put.statusCode, 200)
    const after = await through(url)
    t.ok(after.fastify, 'the tag changed: the route answers')
    t.equal(JSON.parse(after.body).title, 'Changed')
    t.equal(after.headers.etag, put.headers.etag)
    const again = await through(url)
    t.notOk(again.fastify)
    t.equal(again.headers.etag, put.headers.etag)
    t.equal(JSON.parse(again.body).title, 'Changed')
  })

  t.test('what the answer depends on goes to Fastify: Origin, If-None-Match; HEAD too; not credentials', async (t) => {
    await through(url)
    const cors = await through(url, { origin: ORIGIN })
    t.ok(cors.fastify)
    t.equal(cors.headers['access-control-allow-origin'], ORIGIN)
    const cached = await through(url)
    const notModified = await through(url, { 'if-none-match': cached.headers.etag as string })
    t.ok(notModified.fastify)
    t.equal(notModified.status, 304)
    // Public routes ignore credentials: a script's API key or a JWT gets the anonymous answer, hot.
    const credentialed = await through(url, bearer(author.token))
    t.notOk(credentialed.fastify)
    t.same(lasting(credentialed), lasting(cached))
    const { port } = app.server.address() as { port: number }
    const head = await fetch(`http://127.0.0.1:${port}${url}`, { method: 'HEAD' })
    t.equal(head.status, 200)
    t.equal(head.headers.get('etag'), cached.headers.etag)
  })

  t.test('counted as the route: its duration series and a cache hit', async (t) => {
    await through(url)
    const count = (text: string, line: string): number => Number(text.split('\n').find((l) => l.startsWith(line))?.split(' ')[1] ?? 0)
    const series = 'http_request_duration_seconds_count{method="GET",route="/books/:id",status_code="200"}'
    const hits = 'bookstore_cache_requests_total{result="hit"}'
    const before = await scrapeMetrics(app)
    const hot = await through(url)
    t.notOk(hot.fastify)
    const after = await scrapeMetrics(app)
    t.equal(count(after, series), count(before, series) + 1)
    t.equal(count(after, hits), count(before, hits) + 1)
  })

  t.test('a deleted book is 404 from the route, and stays so', async (t) => {
    const other = (await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).json<{ id: number }>().id
    await through(`/books/${other}`)
    t.notOk((await through(`/books/${other}`)).fastify)
    t.equal((await app.inject({ method: 'DELETE', url: `/books/${other}`, headers: bearer(author.token) })).statusCode, 204)
    for (let i = 0; i < 2; i++) {
      const gone = await through(`/books/${other}`)
      t.ok(gone.fastify)
      t.equal(gone.status, 404)
      t.same(JSON.parse(gone.body), errorBody(404, 'BOOK_NOT_FOUND', 'Not Found', 'Book not found'))
    }
  })

  t.test('draining: a request that arrives on an open connection is refused 503 by Fastify, as before', async (t) => {
    await through(url)
    t.notOk((await through(url)).fastify, 'hot')
    // A request begun (headers not finished) when close() starts, as test/faults/draining.test.ts does.
    const { port } = app.server.address() as { port: number }
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write(`GET ${url} HTTP/1.1\r\nHost: x\r\n`)
    let raw = ''
    socket.setEncoding('utf8').on('data', (chunk: string) => { raw += chunk })
    const closing = app.close()
    await new Promise((resolve) => setTimeout(resolve, 100))
    socket.write('\r\n')
    await once(socket, 'close')
    await closing
    t.match(raw, /^HTTP\/1\.1 503 /)
    t.match(raw, /\r\nconnection: close\r\n/i)
    t.match(raw, /"code":"SERVICE_UNAVAILABLE"/)
  })
})

t.test('off while tracing: every request has its span', async (t) => {
  const app = await build(t, { otelExporterOtlpEndpoint: 'http://127.0.0.1:9/v1/traces' })
  t.equal(app.hotReads, undefined)
})
