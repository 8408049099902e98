import t from 'tap'
import { REAL_BACKENDS, build } from '../support/app'

const SERVICES = REAL_BACKENDS ? ['mysql', 'mongodb', 'redis'] : ['sqlite', 'memory']
const all = (state: string): Record<string, string> => Object.fromEntries(SERVICES.map((s) => [s, state]))

t.test('GET / and the health probes', async (t) => {
  const app = await build(t)
  const root = await app.inject({ url: '/' })
  t.equal(root.statusCode, 200)
  t.same(root.json(), { status: 'ok' })
  t.match(root.headers['content-type'], /^application\/json; charset=utf-8/)

  const live = await app.inject({ url: '/health/live' })
  t.same([live.statusCode, live.json()], [200, { status: 'ok' }])

  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ok', services: all('up') }, 'every configured service, by name')
})

t.test('readiness is 503 naming the service that is down', async (t) => {
  const app = await build(t)
  const sql = app.stores.backends[0]
  if (sql === undefined) throw new Error('no SQL backend')
  sql.ping = async () => { throw new Error('disk gone') }
  const res = await app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.same(res.json(), {
    statusCode: 503,
    code: 'NOT_READY',
    error: 'Service Unavailable',
    message: `Not ready: ${sql.name} is down`,
    services: { ...all('up'), [sql.name]: 'down' }
  })
})
