import { randomUUID } from 'node:crypto'
import t from 'tap'
import { Redis } from 'ioredis'
import { createRedisCache } from '../../src/cache/redis'
import { REDIS_CLIENT_OPTIONS } from '../../src/cache/redis-client'
import { cacheContract } from './cache.contract'
import { skipSuite } from '../support/app'
import { freePort } from '../support/servers'

const { REDIS_URL } = process.env

t.test('with Redis unreachable, every call rejects at once instead of waiting', async (t) => {
  const client = new Redis(`redis://127.0.0.1:${await freePort()}/0`, REDIS_CLIENT_OPTIONS)
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  const cache = createRedisCache(client)
  const started = Date.now()
  await t.rejects(cache.get('k'))
  await t.rejects(cache.set('k', 'v', 1))
  await t.rejects(cache.incr('k', 1))
  await t.rejects(cache.peek('k'))
  await t.rejects(cache.del('k'))
  await t.rejects(cache.ping())
  t.ok(Date.now() - started < 1000, `rejected within ${Date.now() - started} ms`)
})

if (REDIS_URL === undefined) {
  skipSuite(t, 'Redis cache suite', 'set REDIS_URL=redis://... (npm run services prints it)')
} else {
  const namespace = `bookstore-test-${randomUUID()}`
  const client = new Redis(REDIS_URL, REDIS_CLIENT_OPTIONS)
  const raw = new Redis(REDIS_URL, { lazyConnect: true })
  const cache = createRedisCache(client, { namespace })

  t.before(async () => {
    await client.connect()
    await raw.connect()
  })
  t.teardown(async () => {
    const keys = await raw.keys(`${namespace}:*`)
    if (keys.length > 0) await raw.del(...keys)
    await cache.close()
    await client.quit()
    await raw.quit()
  })

  t.test('redis cache contract', async (t) => cacheContract(t, async () => cache))

  t.test('writes every key under its namespace only', async (t) => {
    const key = `probe:${randomUUID()}`
    await cache.set(key, 'v', 60)
    await cache.incr(`${key}:n`, 60)
    t.equal(await raw.get(`${namespace}:${key}`), 'v')
    t.equal(await raw.get(`${namespace}:${key}:n`), '1')
    t.equal(await raw.exists(key), 0, 'nothing outside the namespace')
    const ttl = await raw.pttl(`${namespace}:${key}`)
    t.ok(ttl > 59_000 && ttl <= 60_000, `value TTL set in Redis (${ttl} ms)`)
    t.equal(createRedisCache(client).name, 'redis')
  })

  t.test('a counter found without an expiry gets one on the next increment', async (t) => {
    const key = `stuck:${randomUUID()}`
    await raw.set(`${namespace}:${key}`, '5')
    const next = await cache.incr(key, 30)
    t.equal(next.count, 6)
    t.ok(next.ttlMs > 29_000 && next.ttlMs <= 30_000, `window started (${next.ttlMs} ms)`)
    t.ok(await raw.pttl(`${namespace}:${key}`) > 0)
  })

  t.test('close() leaves the shared client to its owner', async (t) => {
    await createRedisCache(client, { namespace }).close()
    t.equal(client.status, 'ready')
    await cache.ping()
  })
}
