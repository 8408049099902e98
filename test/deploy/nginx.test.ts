import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../config/paths'
import type { Book } from '../../src/schemas/book'
import type { TokenResponse } from '../../src/schemas/token'
import { ADMIN, SAMPLE_BOOK, bearer, skipSuite } from '../support/app'
import { httpClient, type Answer, type Request } from '../support/load'
import { composeProxy, findNginx } from '../support/nginx'
import { serve } from '../support/processes'
import { freePort } from '../support/servers'

// docker-compose.yml's proxy, deploy/nginx.conf, in front of the real server: the compose
// upstreams become the server's loopback port, everything else is the file as written.

const LIMIT = 64 * 1024

/** A sign-up body of exactly `bytes` bytes (its password too long: a 400 when it gets through). */
function bodyOf (bytes: number): string {
  const frame = '{"email":"nginx@example.com","password":""}'
  return frame.replace('""', `"${'a'.repeat(bytes - frame.length)}"`)
}

const nginx = findNginx()
if (nginx === undefined) {
  skipSuite(t, 'deploy/nginx.conf', 'no nginx binary (Debian: apt-get install nginx-light); the compose proxy config is not tested')
} else {
  t.test('deploy/nginx.conf answers an oversized body as the service does', async (t) => {
    const server = await serve(t)
    const proxy = await composeProxy(t, nginx, [server.port])
    t.not(proxy.site, readFileSync(path.join(projectRoot, 'deploy', 'nginx.conf'), 'utf8'), 'the upstreams and the listen line were found')
    const url = proxy.url

    const post = async (base: string, bytes: number): Promise<Response> =>
      fetch(`${base}/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(bytes) })

    const direct = await post(server.url, LIMIT + 1)
    t.equal(direct.status, 413, 'the service itself refuses a body over 64 KiB')
    const expected = await direct.text()
    for (const bytes of [LIMIT + 1, 100 * 1024, 4 * 1024 * 1024]) {
      const res = await post(url, bytes)
      t.equal(res.status, 413, `${bytes} bytes through nginx: 413`)
      t.equal(res.headers.get('content-type'), direct.headers.get('content-type'), 'the same content type')
      t.equal(await res.text(), expected, 'the same body, byte for byte, as the service answers')
    }

    // A POST with an Idempotency-Key takes its own way through the file (it may be passed on): the same 413.
    const keyed = await fetch(`${url}/users`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k' }, body: bodyOf(LIMIT + 1) })
    t.equal(keyed.status, 413, 'with an Idempotency-Key too')
    t.equal(await keyed.text(), expected, 'the same body')

    const atLimit = await post(url, LIMIT)
    t.equal(atLimit.status, 400, 'a body of exactly 64 KiB reaches the service (its password is too long)')
    t.ok(atLimit.headers.get('x-request-id'), 'the service answered it')
  })
  t.test('deploy/nginx.conf passes a request answered 503 by an instance shutting down on to the next one when repeating it is safe', async (t) => {
    const server = await serve(t)
    // An instance shutting down, as "Operations" says it answers a request that reaches it.
    const body = JSON.stringify({ statusCode: 503, code: 'SERVICE_UNAVAILABLE', error: 'Service Unavailable', message: 'The service is shutting down; retry on another instance' })
    const reached: string[] = []
    const draining = createServer((req, res) => {
      reached.push(`${req.method ?? ''} ${req.headers['idempotency-key'] === undefined ? '' : 'keyed'}`.trim())
      req.resume()
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', connection: 'close' })
        res.end(body)
      })
    })
    const port = await freePort()
    await new Promise<void>((resolve) => draining.listen(port, '127.0.0.1', resolve))
    t.teardown(() => { draining.closeAllConnections(); draining.close() })
    const proxy = await composeProxy(t, nginx, [port, server.port])
    const client = httpClient(proxy.url)
    const direct = httpClient(server.url)
    const { token } = JSON.parse((await direct({ method: 'POST', url: '/users/sign-in', payload: { email: ADMIN.email, password: ADMIN.password } })).body) as TokenResponse
    const { id } = JSON.parse((await direct({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })).body) as Book

    /** Sends `request` through the proxy until one went to the draining instance first (round robin: within a few). */
    const untilItMet = async (request: Request): Promise<{ answers: Answer[], met: boolean }> => {
      const answers: Answer[] = []
      for (let i = 0; i < 10; i++) {
        const before = reached.length
        answers.push(await client(request))
        if (reached.length > before) return { answers, met: true }
      }
      return { answers, met: false }
    }
    let n = 0
    const safe: Array<[string, Request]> = [
      ['GET', { url: `/books/${id}` }],
      ['PUT', { method: 'PUT', url: `/books/${id}`, headers: bearer(token), payload: { ...SAMPLE_BOOK, title: 'passed on' } }],
      ['POST with an Idempotency-Key', { method: 'POST', url: '/books', headers: { ...bearer(token), 'idempotency-key': `nginx-${++n}` }, payload: SAMPLE_BOOK }]
    ]
    for (const [name, request] of safe) {
      const { answers, met } = await untilItMet(request)
      t.ok(met, `a ${name} reached the instance shutting down`)
      t.same(answers.map((a) => a.status).filter((s) => s >= 500), [], `every ${name} was answered by the other instance (${answers.map((a) => a.status).join(', ')})`)
    }
    const unkeyed = await untilItMet({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })
    t.ok(unkeyed.met, 'a POST without a key reached the instance shutting down')
    const last = unkeyed.answers.at(-1)
    t.equal(last?.status, 503, 'and its 503 went back to the client: the POST is not repeated')
    t.equal(last?.body, body, 'with the instance\'s own answer')
    const posts = proxy.passed().filter((p) => p.method === 'POST')
    t.ok(posts.some((p) => p.upstreams.length === 2), 'the keyed POST was passed on')
    t.same(posts.filter((p) => p.status === 503).map((p) => p.upstreams), [[port]], 'the unkeyed one was not')
  })
}
