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
  // Instances that stop answering, as a restart makes them: one shutting down answers 503
  // with Connection: close ("Operations"); one that closes a keep-alive connection as nginx
  // sends a request on it answers nothing. Each sits beside the real server.
  const standIns = {
    'answers 503 (shutting down)': {
      passedOn: ['GET', 'PUT'],
      backToClient: { 'POST with an Idempotency-Key': 503, 'POST without one': 503 }
    },
    'closes the connection unanswered': {
      passedOn: ['GET', 'PUT', 'POST with an Idempotency-Key'],
      backToClient: { 'POST without one': 502 }
    }
  } as const
  for (const [how, expected] of Object.entries(standIns)) {
    t.test(`deploy/nginx.conf, an instance that ${how}: passed on when repeating is safe`, async (t) => {
      const server = await serve(t)
      const reached: string[] = []
      const standIn = createServer((req, res) => {
        reached.push(req.method ?? '')
        req.resume()
        req.on('end', () => {
          if (how === 'closes the connection unanswered') {
            req.socket.destroy()
            return
          }
          res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1', connection: 'close' })
          res.end(JSON.stringify({ statusCode: 503, code: 'SERVICE_UNAVAILABLE', error: 'Service Unavailable', message: 'The service is shutting down; retry on another instance' }))
        })
      })
      const port = await freePort()
      await new Promise<void>((resolve) => standIn.listen(port, '127.0.0.1', resolve))
      t.teardown(() => { standIn.closeAllConnections(); standIn.close() })
      const proxy = await composeProxy(t, nginx, [port, server.port])
      const client = httpClient(proxy.url)
      const direct = httpClient(server.url)
      const { token } = JSON.parse((await direct({ method: 'POST', url: '/users/sign-in', payload: { email: ADMIN.email, password: ADMIN.password } })).body) as TokenResponse
      const { id } = JSON.parse((await direct({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })).body) as Book
      let n = 0
      const requests: Record<string, () => Request> = {
        GET: () => ({ url: `/books/${id}` }),
        PUT: () => ({ method: 'PUT', url: `/books/${id}`, headers: bearer(token), payload: { ...SAMPLE_BOOK, title: 'passed on' } }),
        'POST with an Idempotency-Key': () => ({ method: 'POST', url: '/books', headers: { ...bearer(token), 'idempotency-key': `nginx-${++n}` }, payload: SAMPLE_BOOK }),
        'POST without one': () => ({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })
      }
      /** Sends one kind through the proxy until one went to the stand-in first (round robin: within a few); that one's answer. */
      const firstMeeting = async (name: string): Promise<{ answer: Answer | undefined, others: number[] }> => {
        const others: number[] = []
        for (let i = 0; i < 10; i++) {
          const before = reached.length
          const answer = await client(requests[name]!())
          if (reached.length > before) return { answer, others }
          others.push(answer.status)
        }
        return { answer: undefined, others }
      }
      for (const name of expected.passedOn) {
        const { answer, others } = await firstMeeting(name)
        t.ok(answer !== undefined, `a ${name} reached the stand-in (the others: ${others.join(', ')})`)
        t.ok(answer !== undefined && answer.status < 300, `and was passed on to the real server: ${answer?.status ?? 'none'}`)
      }
      for (const [name, status] of Object.entries(expected.backToClient)) {
        const { answer } = await firstMeeting(name)
        t.equal(answer?.status, status, `a ${name} that reached the stand-in is not repeated: the client gets ${status}`)
      }
      const passedOn = proxy.passed().filter((p) => p.upstreams.length > 1).map((p) => p.method)
      t.same([...new Set(passedOn)].sort(), [...new Set(expected.passedOn.map((name) => name.split(' ')[0]))].sort(), 'the proxy log shows the same')
    })
  }
}
