import t from 'tap'
import { ADMIN, build, buildLogged, errorBody, signUp } from '../support/app'

const OVERLOADED = errorBody(503, 'SERVICE_UNAVAILABLE', 'Service Unavailable', 'The service is overloaded; retry shortly')
/** under-pressure measures once a second. */
const nextSample = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1200))

t.test('past the heap limit every request is shed at once: 503 + Retry-After; liveness stays 200, readiness says so', async (t) => {
  // Any test process holds more than 16 MiB of heap: under pressure from the first sample on.
  const app = await build(t, { shedHeapUsedMb: 16 })
  await nextSample()
  t.ok(app.isUnderPressure())
  for (const [method, url] of [['GET', '/books'], ['GET', '/books/1'], ['POST', '/users/sign-in'], ['GET', '/']] as const) {
    const res = await app.inject({ method, url, ...(method === 'POST' ? { payload: { email: ADMIN.email, password: ADMIN.password } } : {}) })
    t.equal(res.statusCode, 503, `${method} ${url}`)
    t.same(res.json(), OVERLOADED, `${method} ${url}: the contract's shape`)
    t.equal(res.headers['retry-after'], '2', 'Retry-After')
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  }
  t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'liveness: the process still serves')
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503, 'readiness: 503')
  t.match(ready.json(), { statusCode: 503, code: 'NOT_READY', message: /shedding load/, services: {} })
  t.equal(ready.headers['retry-after'], '2')
})

t.test('past the resident-memory limit likewise', async (t) => {
  const app = await build(t, { shedRssMb: 16 })
  await nextSample()
  const res = await app.inject({ url: '/books' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), OVERLOADED)
})

t.test('an event loop held up past the delay limit sheds, and serving resumes once it is not', async (t) => {
  const app = await build(t, { shedEventLoopDelayMs: 50 })
  // The first two seconds after ready do not count: their sample holds start-up's schema compilation.
  await new Promise((resolve) => setTimeout(resolve, 2300))
  t.equal((await app.inject({ url: '/books' })).statusCode, 200, 'not shed while the loop is free')
  // Hold the loop in short blocks for over two seconds, so one whole sample's mean delay is well past 50 ms.
  const until = Date.now() + 2300
  while (Date.now() < until) {
    const block = Date.now() + 150
    while (Date.now() < block) { /* busy */ }
    await new Promise((resolve) => setImmediate(resolve))
  }
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.ok(app.memoryUsage().eventLoopDelay > 50, `mean delay ${Math.round(app.memoryUsage().eventLoopDelay)} ms`)
  const shed = await app.inject({ url: '/books' })
  t.equal(shed.statusCode, 503)
  t.same(shed.json(), OVERLOADED)
  t.equal((await app.inject({ url: '/health/ready' })).json().code, 'NOT_READY')
  await nextSample()
  await nextSample()
  t.equal((await app.inject({ url: '/books' })).statusCode, 200, 'served again once the delay is gone')
  t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200)
})

t.test('a full password queue sheds sign-ins at once, and a shed sign-in is no failed sign-in', async (t) => {
  // One argon2 slot and nobody may wait: of sign-ins sent together, the first runs, the rest are shed.
  const app = await build(t, { shedPasswordQueue: 0, signinMaxFailures: 2, argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1, concurrency: 1 } })
  const user = await signUp(app)
  const answers = await Promise.all(Array.from({ length: 8 }, () =>
    app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: user.password } })))
  const statuses = answers.map((res) => res.statusCode)
  t.ok(statuses.includes(200), 'one ran')
  const shed = answers.filter((res) => res.statusCode === 503)
  t.ok(shed.length >= 1, `${shed.length} shed`)
  t.same(statuses.filter((s) => s !== 200 && s !== 503), [], 'nothing else: no 401, no 429')
  for (const res of shed) {
    t.same(res.json(), OVERLOADED)
    t.equal(res.headers['retry-after'], '1')
  }
  // Wrong passwords shed the same way do not count towards the throttle (signinMaxFailures: 2).
  const wrong = await Promise.all(Array.from({ length: 4 }, () =>
    app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: 'not the password at all' } })))
  t.equal(wrong.filter((res) => res.statusCode === 401).length, 1, 'only the one that ran failed')
  t.equal(wrong.filter((res) => res.statusCode === 503).length, 3, 'the others were shed')
  const after = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: user.password } })
  t.equal(after.statusCode, 200, 'one failure counted, not four: still under the throttle of 2')

  // Sign-up sheds the same way.
  const signUps = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    app.inject({ method: 'POST', url: '/users', payload: { email: `shed-${i}-${user.email}`, password: 'a fine long passphrase' } })))
  t.ok(signUps.some((res) => res.statusCode === 201))
  t.ok(signUps.some((res) => res.statusCode === 503))
  t.same(signUps.map((r) => r.statusCode).filter((s) => s !== 201 && s !== 503), [])
})

t.test('a sign-in waits for argon2 while its estimated wait is within SHED_PASSWORD_WAIT_MS, and is shed past it', async (t) => {
  const ONE_SLOT = { memoryCost: 19456, timeCost: 2, parallelism: 1, concurrency: 1 }
  const signIns = async (app: Awaited<ReturnType<typeof build>>, user: { email: string, password: string }, count: number) =>
    (await Promise.all(Array.from({ length: count }, () =>
      app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: user.password } })))).map((res) => res.statusCode)

  const patient = await build(t, { shedPasswordWaitMs: 60_000, argon2: ONE_SLOT })
  const first = await signUp(patient)
  t.same(await signIns(patient, first, 8), Array(8).fill(200), 'eight at once on one slot: each waits its turn, none is refused')

  // 1 ms: once the pace is known (a check takes longer than that), anyone behind a running check is shed.
  const { app: hasty, lines } = await buildLogged<{ level: number, msg: string, shed?: number, res?: { statusCode: number } }>(t, { shedPasswordWaitMs: 1, argon2: ONE_SLOT, logLevel: 'info' })
  const second = await signUp(hasty)
  const statuses = await signIns(hasty, second, 8)
  t.equal(statuses.filter((s) => s === 200).length, 1, 'the one that found the slot free ran')
  t.equal(statuses.filter((s) => s === 503).length, 7, 'the others were refused at once')

  // Refusals are counted in one summary line, not logged one by one.
  await new Promise((resolve) => setTimeout(resolve, 1200))
  t.same(lines.filter((line) => line.res?.statusCode === 503), [], 'no line per refusal')
  t.same(lines.filter((line) => line.msg.startsWith('requests shed')).map((line) => [line.level, line.shed]), [[40, 7]], 'one warning counting them')
})

t.test('by default nothing is shed at rest', async (t) => {
  const app = await build(t)
  await nextSample()
  t.notOk(app.isUnderPressure())
  t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200)
})
