import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { serverOptions } from '../../src/http/server-options'
import { build, testConfig } from '../support/app'
import { rawConnection, type RawAnswer } from '../support/processes'

/** A short limit for the test; the default (30 s) is checked from the server options below. */
const LIMIT_MS = 600

async function listening (t: Test): Promise<{ app: FastifyInstance, port: number }> {
  const app = await build(t, { requestTimeoutMs: LIMIT_MS })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, port: address.port }
}

function assertError (t: Test, answer: RawAnswer | undefined, status: number, code: string, error: string, message: string): void {
  t.equal(answer?.status, status, `${status}`)
  t.same(JSON.parse(answer?.body ?? '{}'), { statusCode: status, code, error, message }, 'the contract\'s error shape')
  t.match(answer?.headers['content-type'], /^application\/json; charset=utf-8$/)
  t.match(answer?.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'x-request-id')
  t.equal(answer?.headers['x-content-type-options'], 'nosniff', 'the security headers')
  t.equal(answer?.headers.connection, 'close', 'Connection: close')
  t.ok(answer?.closed, 'and the server closed the connection')
}

t.test('the limit is 30 s unless a test shortens it, for headers and body alike', async (t) => {
  const options = serverOptions(testConfig())
  t.equal(options.requestTimeout, 30_000)
  t.equal(options.http?.requestTimeout, 30_000)
  t.equal(options.http?.headersTimeout, 30_000, 'headers too (Node defaults them to 60 s)')
  t.ok((options.http?.connectionsCheckingInterval ?? Infinity) <= 1000, 'checked every second, so 408 comes at 30-31 s, not up to 60 s')
})

t.test('slow clients get 408 REQUEST_TIMEOUT in time and the connection closed', async (t) => {
  const { port } = await listening(t)

  t.test('headers trickled byte by byte (slowloris)', async (t) => {
    const conn = await rawConnection(port)
    const started = Date.now()
    conn.write('GET /books HTTP/1.1\r\nHost: x\r\n')
    const trickle = setInterval(() => conn.write('X-Slow: 1\r\n'), 100)
    t.teardown(() => clearInterval(trickle))
    const { answer, at } = await conn.answer()
    clearInterval(trickle)
    assertError(t, answer, 408, 'REQUEST_TIMEOUT', 'Request Timeout', 'The request was not wholly received in time')
    const took = at - started
    t.ok(took >= LIMIT_MS - 50 && took < LIMIT_MS * 2 + 500, `answered after ${took} ms for a ${LIMIT_MS} ms limit`)
  })

  t.test('a body that never finishes', async (t) => {
    const conn = await rawConnection(port)
    const started = Date.now()
    conn.write('POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":')
    const { answer, at } = await conn.answer()
    assertError(t, answer, 408, 'REQUEST_TIMEOUT', 'Request Timeout', 'The request was not wholly received in time')
    const took = at - started
    t.ok(took >= LIMIT_MS - 50 && took < LIMIT_MS * 2 + 500, `answered after ${took} ms for a ${LIMIT_MS} ms limit`)
  })

  t.test('a request received in time is answered as usual, on a connection kept alive', async (t) => {
    const conn = await rawConnection(port)
    conn.write('GET /health/live HTTP/1.1\r\nHost: x\r\n')
    await new Promise((resolve) => setTimeout(resolve, LIMIT_MS / 3))
    conn.write('\r\n')
    const { answer } = await conn.answer()
    t.equal(answer?.status, 200)
    t.notOk(answer?.closed, 'still open')
    conn.socket.destroy()
  })
})

t.test('oversized and malformed requests are answered in the contract\'s shape', async (t) => {
  const { port } = await listening(t)

  t.test('headers over 16 KiB: 431 HEADERS_TOO_LARGE', async (t) => {
    const conn = await rawConnection(port)
    conn.write(`GET /books HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    assertError(t, (await conn.answer()).answer, 431, 'HEADERS_TOO_LARGE', 'Request Header Fields Too Large', 'The request headers are too large')
  })

  t.test('a request line over the header limit: 414 URI_TOO_LONG, not 431', async (t) => {
    const conn = await rawConnection(port)
    conn.write(`GET /books?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`)
    const { answer } = await conn.answer()
    assertError(t, answer, 414, 'URI_TOO_LONG', 'URI Too Long', 'The URL is longer than 2048 characters')
    t.notMatch(answer?.body, /aaaa/, 'the URL is not echoed')
  })

  t.test('not HTTP at all: 400 VALIDATION_ERROR', async (t) => {
    const conn = await rawConnection(port)
    conn.write('HELLO THERE\r\n\r\n')
    assertError(t, (await conn.answer()).answer, 400, 'VALIDATION_ERROR', 'Bad Request', 'The request is not valid HTTP')
  })
})
