import t from 'tap'
import { build } from '../helper'

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
  t.same(ready.json(), { status: 'ok', services: { sqlite: 'up', memory: 'up' } })
})

t.test('readiness is 503 naming the service that is down', async (t) => {
  const app = await build(t)
  const sqlite = app.stores.backends.find((b) => b.name === 'sqlite')
  if (sqlite === undefined) throw new Error('no sqlite backend')
  sqlite.ping = async () => { throw new Error('disk gone') }
  const res = await app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '5')
  t.same(res.json(), {
    statusCode: 503,
    code: 'NOT_READY',
    error: 'Service Unavailable',
    message: 'Not ready: sqlite is down',
    services: { sqlite: 'down', memory: 'up' }
  })
})
