import t from 'tap'
import { build, errorBody } from '../support/app'

const APP = 'https://app.example.com'
const EVIL = 'https://evil.example.com'
const preflight = (origin: string, method = 'POST', headers = 'authorization,content-type,idempotency-key,if-match,if-none-match') => ({
  method: 'OPTIONS' as const, url: '/books', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers }
})
const corsHeaders = (headers: Record<string, unknown>): string[] => Object.keys(headers).filter((name) => name.startsWith('access-control-'))

t.test('with CORS_ORIGINS set', async (t) => {
  const app = await build(t, { corsOrigins: `${APP}, http://localhost:5173` })

  t.test('a listed origin\'s preflight is 204 and allows the API\'s methods and headers', async (t) => {
    const res = await app.inject(preflight(APP))
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.equal(res.headers['access-control-allow-origin'], APP)
    t.same(String(res.headers['access-control-allow-methods']).split(', ').sort(), ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT'])
    t.same(String(res.headers['access-control-allow-headers']).split(', ').sort(),
      ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-Match', 'If-None-Match'])
    t.equal(res.headers['access-control-allow-credentials'], undefined, 'bearer tokens, no cookies')
    t.equal(res.headers['x-content-type-options'], 'nosniff', 'a preflight carries the security headers too')
  })

  t.test('a listed origin\'s answers expose the headers a client reads', async (t) => {
    const res = await app.inject({ url: '/books', headers: { origin: 'http://localhost:5173' } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['access-control-allow-origin'], 'http://localhost:5173')
    for (const name of ['ETag', 'Link', 'Location', 'Retry-After', 'X-Request-Id']) {
      t.ok(String(res.headers['access-control-expose-headers']).split(', ').includes(name), `exposes ${name}`)
    }
    t.match(res.headers.vary, /Origin/, 'caches keep answers to different origins apart')
  })

  t.test('another origin gets no CORS header at all', async (t) => {
    const pre = await app.inject(preflight(EVIL))
    t.equal(pre.statusCode, 404)
    t.same(pre.json(), errorBody(404, 'ROUTE_NOT_FOUND', 'Not Found', 'Route OPTIONS /books not found'))
    t.same(corsHeaders(pre.headers), [])
    const get = await app.inject({ url: '/books', headers: { origin: EVIL } })
    t.equal(get.statusCode, 200)
    t.same(corsHeaders(get.headers), [])
    t.same(corsHeaders((await app.inject({ url: '/books' })).headers), [], 'nor does a request without Origin')
  })
})

t.test('without CORS_ORIGINS no cross-origin access', async (t) => {
  const app = await build(t)
  const pre = await app.inject(preflight(APP))
  t.equal(pre.statusCode, 404)
  t.same(corsHeaders(pre.headers), [])
  t.same(corsHeaders((await app.inject({ url: '/books', headers: { origin: APP } })).headers), [])
})

t.test('every answer carries the security headers', async (t) => {
  const app = await build(t)
  for (const url of ['/', '/books', '/books/999999', '/no/such/route', '/docs/json']) {
    const res = await app.inject({ url })
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`)
    t.equal(res.headers['x-frame-options'], 'DENY', `${url}: no framing`)
    t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/, `${url}: CSP frame-ancestors`)
    t.equal(res.headers['referrer-policy'], 'no-referrer', `${url}: Referrer-Policy`)
    t.notMatch(res.headers['content-security-policy'], /upgrade-insecure-requests/, `${url}: the explorer works over plain HTTP`)
    t.equal(res.headers['cross-origin-resource-policy'], 'same-origin', `${url}: no cross-origin embedding`)
    t.match(res.headers['strict-transport-security'], /max-age=\d+/, `${url}: HSTS`)
    if (!url.startsWith('/docs')) t.match(res.headers['content-security-policy'], /^default-src 'none';/, `${url}: JSON loads nothing`)
  }
  let docs = await app.inject({ url: '/docs' })
  if (docs.statusCode >= 300 && docs.statusCode < 400) docs = await app.inject({ url: String(docs.headers.location) })
  t.equal(docs.statusCode, 200)
  t.match(docs.headers['content-security-policy'], /script-src 'self'/, '/docs is under the same CSP (test/browser proves it works)')
  t.notMatch(docs.body, /<script>[^<]/, 'the explorer page has no inline script the CSP would block')
})
