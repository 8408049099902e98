import http from 'node:http'
import t from 'tap'
import { ADMIN } from '../support/app'
import { rawConnection, serve } from '../support/processes'

/** Sign-ins are the slow request here (argon2): enough of them keep the server draining for a while. */
const SIGN_IN = JSON.stringify({ email: ADMIN.email, password: ADMIN.password })
// No shedding by the password queue, by count or by estimated wait: these tests want every
// sign-in in flight to run, however slow argon2 is on a busy machine.
const SETTINGS = { shedPasswordQueue: 10_000, shedPasswordWaitMs: 60_000 }

interface Answer { status: number | string, connection: string | undefined, at: number }

function request (agent: http.Agent, port: number, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, at: Date.now() }))
    })
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: err.code ?? 'error', connection: undefined, at: Date.now() }))
    req.end(body)
  })
}

t.test('SIGTERM with 50 sign-ins in flight on keep-alive connections: all answered, then exit 0 at once', async (t) => {
  const server = await serve(t, SETTINGS)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 })
  t.teardown(() => agent.destroy())
  // 50 open keep-alive connections first, then a sign-in on each.
  await Promise.all(Array.from({ length: 50 }, () => request(agent, server.port, 'GET', '/health/live')))
  const inFlight = Array.from({ length: 50 }, () => request(agent, server.port, 'POST', '/users/sign-in', SIGN_IN))
  await new Promise((resolve) => setTimeout(resolve, 50))
  server.kill('SIGTERM')
  const killedAt = Date.now()
  const answers = await Promise.all(inFlight)
  const exit = await server.exited

  t.same(answers.map((a) => a.status), answers.map(() => 200), 'every request in flight is answered 200')
  const closing = answers.filter((a) => a.connection === 'close')
  const keptAlive = answers.filter((a) => a.connection !== 'close')
  t.ok(closing.length >= 25, `most answers went out while draining, with Connection: close (${closing.length} of 50)`)
  // The server takes the signal between two tasks: answers sent before say keep-alive, every one after says close.
  const firstClose = Math.min(...closing.map((a) => a.at))
  t.ok(keptAlive.every((a) => a.at <= firstClose + 50), 'no keep-alive answer once answers began to say close')
  t.equal(exit.code, 0, 'exit status 0')
  const lastAnswer = Math.max(...answers.map((a) => a.at)) - killedAt
  t.ok(exit.msAfterKill < lastAnswer + 1500, `exit ${exit.msAfterKill} ms after SIGTERM, last answer at ${lastAnswer} ms: no waiting on idle keep-alive sockets`)
  t.ok(exit.msAfterKill < 5000, 'well inside the 10 s grace')
})

t.test('while draining: an idle keep-alive connection is closed, a request on an open one is 503 with Connection: close, readiness too', async (t) => {
  const server = await serve(t, SETTINGS)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 40 })
  t.teardown(() => agent.destroy())
  const idle = await rawConnection(server.port)
  idle.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n')
  t.equal((await idle.answer()).answer?.status, 200)
  // Two connections with a request begun (headers not finished) when the signal comes.
  const late = await rawConnection(server.port)
  late.write('GET /books HTTP/1.1\r\nHost: x\r\n')
  const ready = await rawConnection(server.port)
  ready.write('GET /health/ready HTTP/1.1\r\nHost: x\r\n')
  // Work in flight keeps the server draining meanwhile.
  await Promise.all(Array.from({ length: 40 }, () => request(agent, server.port, 'GET', '/health/live')))
  const inFlight = Array.from({ length: 40 }, () => request(agent, server.port, 'POST', '/users/sign-in', SIGN_IN))
  await new Promise((resolve) => setTimeout(resolve, 50))

  server.kill('SIGTERM')
  const killedAt = Date.now()
  const idleClosed = await idle.closed
  t.ok(idleClosed - killedAt < 1000, `the idle keep-alive connection is closed at once (${idleClosed - killedAt} ms)`)

  await new Promise((resolve) => setTimeout(resolve, 150))
  late.write('\r\n')
  ready.write('\r\n')
  for (const [name, connection] of [['GET /books', late], ['GET /health/ready', ready]] as const) {
    const { answer } = await connection.answer()
    t.equal(answer?.status, 503, `${name}: 503`)
    t.same(JSON.parse(answer?.body ?? '{}'), {
      statusCode: 503, code: 'SERVICE_UNAVAILABLE', error: 'Service Unavailable', message: 'The service is shutting down; retry on another instance'
    }, `${name}: the contract's error shape`)
    t.equal(answer?.headers.connection, 'close', `${name}: Connection: close`)
    t.equal(answer?.headers['retry-after'], '1', `${name}: Retry-After`)
    t.match(answer?.headers['x-request-id'], /^[0-9a-f-]{36}$/, `${name}: x-request-id`)
    t.ok(answer?.closed, `${name}: the server closed the connection`)
  }

  t.same((await Promise.all(inFlight)).map((a) => a.status), inFlight.map(() => 200), 'the work in flight still finished')
  t.equal((await server.exited).code, 0)
})

t.test('what still runs after the grace is cut off: exit status 1', async (t) => {
  const server = await serve(t, { ...SETTINGS, shutdownGraceMs: 600 })
  // A request that never finishes arriving (and so is never answered) keeps close() waiting.
  const stuck = await rawConnection(server.port)
  stuck.write('POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email"')
  await new Promise((resolve) => setTimeout(resolve, 100))
  server.kill('SIGTERM')
  const exit = await server.exited
  t.equal(exit.code, 1, 'exit status 1')
  t.ok(exit.msAfterKill >= 550 && exit.msAfterKill < 3000, `cut off after the grace (${exit.msAfterKill} ms)`)
  t.match(server.output(), /shutdown grace over/, 'and says so in the log')
})

t.test('SIGINT drains the same way', async (t) => {
  const server = await serve(t, SETTINGS)
  const agent = new http.Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  t.equal((await request(agent, server.port, 'GET', '/health/live')).status, 200)
  server.kill('SIGINT')
  const exit = await server.exited
  t.equal(exit.code, 0)
  t.ok(exit.msAfterKill < 2000, `exit ${exit.msAfterKill} ms after SIGINT with an idle keep-alive connection open`)
})
