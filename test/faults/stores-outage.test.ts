import t from 'tap'
import type { InjectOptions } from 'fastify'
import { SAMPLE_BOOK, bearer, build, skipSuite, userWith } from '../support/app'
import { binaryAvailable, throwawayFerretdb, throwawayMariadb } from '../support/servers'

// Real processes, frozen with SIGSTOP and killed with SIGKILL: private instances on free
// ports, so the shared services other suites use are never disturbed.
const missing = ['mariadbd', 'ferretdb'].filter((cmd) => !binaryAvailable(cmd))
if (missing.length > 0) {
  skipSuite(t, 'store failure suite', `${missing.join(' and ')} not installed (npm run services installs them)`)
} else {
  const UNAVAILABLE = { statusCode: 503, code: 'SERVICE_UNAVAILABLE', error: 'Service Unavailable', message: 'A backing service is unavailable; try again shortly' }
  // A bound on hanging, not a benchmark: the deadline is 1 s, the machine is shared.
  const BOUND_MS = 3000

  t.test('a frozen, killed or restarted MySQL or MongoDB: 503 within the deadline, then recovery', async (t) => {
    const mysql = await throwawayMariadb()
    const mongo = await throwawayFerretdb()
    t.teardown(async () => { await mysql.dispose(); await mongo.dispose() })
    const app = await build(t, { databaseUrl: mysql.url, mongodbUrl: mongo.url, backendTimeoutMs: 1000 })
    const author = await userWith(app, 2)
    const headers = bearer(author.token)
    const book = (await app.inject({ method: 'POST', url: '/books', headers, payload: SAMPLE_BOOK })).json()

    const timed = async (request: InjectOptions) => {
      const started = Date.now()
      const res = await app.inject(request)
      return { res, ms: Date.now() - started }
    }
    const expectUnavailable = async (what: string, request: InjectOptions) => {
      const { res, ms } = await timed(request)
      t.equal(res.statusCode, 503, `${what}: 503`)
      t.same(res.json(), UNAVAILABLE, `${what}: the contract's shape, no driver text`)
      t.equal(res.headers['retry-after'], '5', `${what}: Retry-After`)
      t.ok(ms < BOUND_MS, `${what}: answered in ${ms} ms`)
    }

    mysql.signal('SIGSTOP')
    await expectUnavailable('frozen MySQL, a write', { method: 'POST', url: '/books', headers, payload: SAMPLE_BOOK })
    await expectUnavailable('frozen MySQL, an uncached read', { url: '/books?q=never-cached' })
    const ready = await timed({ url: '/health/ready' })
    t.equal(ready.res.statusCode, 503)
    t.match(ready.res.json(), { code: 'NOT_READY', services: { mysql: 'down', mongodb: 'up' } })
    t.ok(ready.ms < BOUND_MS, `readiness answered in ${ready.ms} ms`)
    mysql.signal('SIGCONT')
    t.equal((await app.inject({ method: 'POST', url: '/books', headers, payload: SAMPLE_BOOK })).statusCode, 201, 'thawed: writes work')

    await mysql.kill()
    await expectUnavailable('dead MySQL, a write', { method: 'POST', url: '/books', headers, payload: SAMPLE_BOOK })
    await mysql.start()
    let recovered = 0
    for (let i = 0; i < 50 && recovered !== 201; i++) {
      recovered = (await app.inject({ method: 'POST', url: '/books', headers, payload: SAMPLE_BOOK })).statusCode
      if (recovered !== 201) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    t.equal(recovered, 201, 'restarted MySQL: writes work again without restarting the app')

    const review = { book_id: book.id, title: 'Kept', content: 'c' }
    mongo.signal('SIGSTOP')
    await expectUnavailable('frozen MongoDB, a review list', { url: `/books/${book.id}/reviews` })
    await expectUnavailable('frozen MongoDB, a review write', { method: 'POST', url: '/reviews', headers, payload: review })
    mongo.signal('SIGCONT')
    t.equal((await app.inject({ method: 'POST', url: '/reviews', headers, payload: review })).statusCode, 201, 'thawed: reviews work')

    await mongo.kill()
    await expectUnavailable('dead MongoDB, a review list', { url: `/books/${book.id}/reviews` })
    await mongo.start()
    let listed = 0
    for (let i = 0; i < 50 && listed !== 200; i++) {
      listed = (await app.inject({ url: `/books/${book.id}/reviews` })).statusCode
      if (listed !== 200) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    t.equal(listed, 200, 'restarted MongoDB: reviews answer again')
    t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200)
  })

  t.test('a database that is down at start-up is waited for, not crashed on', async (t) => {
    const mysql = await throwawayMariadb()
    t.teardown(() => mysql.dispose())
    await mysql.kill()
    let started = false
    const booting = build(t, { databaseUrl: mysql.url }).then((app) => { started = true; return app })
    await new Promise((resolve) => setTimeout(resolve, 2000))
    t.equal(started, false, 'still waiting for MySQL after 2 s')
    await mysql.start()
    const app = await booting
    t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200, 'up once MySQL is')
  })
}
