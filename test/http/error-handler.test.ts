import { Socket } from 'node:net'
import Fastify, { errorCodes, type ConnectionError, type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { loadConfig } from '../../config/load'
import { AppError, ServiceUnavailableError } from '../../src/domain/errors'
import { clientErrorHandler, errorHandler, notFoundHandler } from '../../src/http/error-handler'
import { MAX_PARAM_LENGTH, MAX_URL_LENGTH } from '../../src/http/limits'
import { API_SECURITY_HEADERS } from '../../src/http/security-headers'
import { serverOptions } from '../../src/http/server-options'

const config = loadConfig({ overrides: { databaseUrl: 'sqlite::memory:', logLevel: 'silent' } })

/** A bare Fastify with the server options and the handlers, and a route that throws `thrown`. */
async function throwing (t: Test, thrown: () => unknown): Promise<FastifyInstance> {
  const app = Fastify(serverOptions(config))
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)
  app.get('/throw', async () => { throw thrown() })
  app.get('/echo/:id', async () => ({ ok: true }))
  app.post('/echo', async (request) => request.body)
  t.teardown(() => app.close())
  await app.ready()
  return app
}

const shape = (statusCode: number, code: string, error: string, message: string): object => ({ statusCode, code, error, message })

t.test('Fastify\'s own client errors get the contract\'s codes and fixed sentences, Fastify\'s status', async (t) => {
  const cases: Array<[keyof typeof errorCodes, number, string, string, string]> = [
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type', 'Send the body as application/json'],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 'PAYLOAD_TOO_LARGE', 'Payload Too Large', 'The request body is larger than 64 KiB'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 'INVALID_JSON', 'Bad Request', 'The body is empty but the content type is application/json'],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 400, 'INVALID_JSON', 'Bad Request', 'The request body is not valid JSON'],
    ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 'VALIDATION_ERROR', 'Bad Request', 'Content-Length does not match the body'],
    ['FST_ERR_BAD_URL', 400, 'VALIDATION_ERROR', 'Bad Request', 'The URL is not valid']
  ]
  for (const [fastifyCode, status, code, error, message] of cases) {
    const Err = errorCodes[fastifyCode] as unknown as new (...args: string[]) => Error
    const app = await throwing(t, () => new Err('the parser said /srv/secret'))
    const res = await app.inject({ url: '/throw' })
    t.equal(res.statusCode, status, fastifyCode)
    t.same(res.json(), shape(status, code, error, message), `${fastifyCode}: never the parser's text`)
  }
})

t.test('a client error with no code of its own: its status\'s code, else VALIDATION_ERROR', async (t) => {
  const withStatus = (statusCode: number) => () => Object.assign(new Error('a plugin said /srv/secret'), { statusCode })
  const cases: Array<[number, string, string]> = [
    [429, 'RATE_LIMITED', 'Too Many Requests'],
    [404, 'ROUTE_NOT_FOUND', 'Not Found'],
    [405, 'VALIDATION_ERROR', 'Method Not Allowed']
  ]
  for (const [status, code, phrase] of cases) {
    const app = await throwing(t, withStatus(status))
    const res = await app.inject({ url: '/throw' })
    t.same(res.json(), shape(status, code, phrase, phrase), `${status} → ${code}, the reason phrase as the sentence`)
  }
  const syntax = await throwing(t, () => Object.assign(new SyntaxError('Unexpected token } at 12'), { statusCode: 400 }))
  t.same((await syntax.inject({ url: '/throw' })).json(), shape(400, 'INVALID_JSON', 'Bad Request', 'The request body is not valid JSON'),
    'a parser\'s SyntaxError is INVALID_JSON')
})

t.test('an AppError answers its status, code, headers and fields', async (t) => {
  const app = await throwing(t, () => new AppError('NOT_READY', 'Not ready: sqlite is down', { 'retry-after': '5' }, { services: { sqlite: 'down' } }))
  const res = await app.inject({ url: '/throw' })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.same(res.json(), { ...shape(503, 'NOT_READY', 'Service Unavailable', 'Not ready: sqlite is down'), services: { sqlite: 'down' } })
  const down = await throwing(t, () => new ServiceUnavailableError('sqlite', { cause: new Error('SQLITE_BUSY at /srv/db') }))
  t.same((await down.inject({ url: '/throw' })).json(),
    shape(503, 'SERVICE_UNAVAILABLE', 'Service Unavailable', 'A backing service is unavailable; try again shortly'))
})

t.test('anything else is a 500 that hides its text and gives the request id', async (t) => {
  const app = await throwing(t, () => new Error('SQLITE_ERROR: no such table at /srv/app/stores.js:42'))
  const res = await app.inject({ url: '/throw', headers: { 'x-request-id': 'trace-me-7' } })
  t.equal(res.statusCode, 500)
  t.same(res.json(), {
    ...shape(500, 'INTERNAL_ERROR', 'Internal Server Error', 'Something went wrong on our side; quote the request id when reporting it'),
    request_id: 'trace-me-7'
  })
})

t.test('the router\'s own refusals, before any hook: the contract\'s shape and the security headers', async (t) => {
  const app = await throwing(t, () => new Error('unused'))
  const long = await app.inject({ url: `/echo/${'x'.repeat(MAX_PARAM_LENGTH + 1)}` })
  t.same(long.json(), shape(414, 'URI_TOO_LONG', 'URI Too Long', 'A path parameter is longer than 100 characters'))
  t.match(long.headers, { ...API_SECURITY_HEADERS, 'x-request-id': String })
  t.equal((await app.inject({ url: `/echo/${'x'.repeat(MAX_PARAM_LENGTH)}` })).statusCode, 200, 'the limit itself passes')
  const bad = await app.inject({ url: '/echo/%ff' })
  t.same(bad.json(), shape(400, 'VALIDATION_ERROR', 'Bad Request', 'The URL is not valid: bad percent-encoding'))
  const missing = await app.inject({ url: '/nowhere?secret=1' })
  t.same(missing.json(), shape(404, 'ROUTE_NOT_FOUND', 'Not Found', 'Route GET /nowhere not found'), 'never the query')
})

/** What clientErrorHandler writes (Node hands it the bytes read so far as a Buffer, whatever the types say) to a socket for `err`, read back as status, headers and body. */
function clientAnswer (err: { code: string, rawPacket?: Buffer }): { head: string, body: Record<string, unknown> } {
  let written = ''
  const socket = Object.assign(new Socket(), { writable: true })
  socket.end = ((text: string) => { written += text; return socket }) as typeof socket.end
  const instance = Fastify({ logger: false })
  clientErrorHandler.call(instance, Object.assign(new Error('parser'), err) as unknown as ConnectionError, socket)
  socket.destroy()
  const [head = '', body = ''] = written.split('\r\n\r\n')
  return { head, body: JSON.parse(body) as Record<string, unknown> }
}

t.test('errors of Node\'s HTTP parser: answered in the contract\'s shape, then the connection closed', async (t) => {
  const timeout = clientAnswer({ code: 'ERR_HTTP_REQUEST_TIMEOUT' })
  t.match(timeout.head, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  t.match(timeout.head, /\r\nconnection: close/)
  t.match(timeout.head, /\r\ncontent-type: application\/json; charset=utf-8/)
  t.match(timeout.head, new RegExp(`content-security-policy: ${API_SECURITY_HEADERS['content-security-policy'] ?? 'missing'}`))
  t.same(timeout.body, shape(408, 'REQUEST_TIMEOUT', 'Request Timeout', 'The request was not wholly received in time'))

  const line = `GET /${'x'.repeat(MAX_URL_LENGTH + 100)} HTTP/1.1\r\nHost: x\r\n`
  const longUrl = clientAnswer({ code: 'HPE_HEADER_OVERFLOW', rawPacket: Buffer.from(line) })
  t.same(longUrl.body, shape(414, 'URI_TOO_LONG', 'URI Too Long', 'The URL is longer than 2048 characters'), 'a long request line is 414')
  const headers = clientAnswer({ code: 'HPE_HEADER_OVERFLOW', rawPacket: Buffer.from(`GET / HTTP/1.1\r\nX-Big: ${'x'.repeat(20000)}`) })
  t.same(headers.body, shape(431, 'HEADERS_TOO_LARGE', 'Request Header Fields Too Large', 'The request headers are too large'))
  const garbage = clientAnswer({ code: 'HPE_INVALID_METHOD' })
  t.same(garbage.body, shape(400, 'VALIDATION_ERROR', 'Bad Request', 'The request is not valid HTTP'))
})
