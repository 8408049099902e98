import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { Permission } from '../../src/domain/permission'
import type { CreatedApiKey } from '../../src/schemas/api-key'
import { ADMIN, SAMPLE_BOOK, bearer, signIn, twoInstances, userWith } from '../support/app'
import { binaryAvailable, throwawayRedis } from '../support/servers'

/**
 * API keys on two instances sharing one database and one Redis: a revocation, a level change
 * or a deletion on one is seen by the other from the next request on, though both cache key
 * checks; the per-key limit counts across both.
 */

async function redisFor (t: Test): Promise<string> {
  if (binaryAvailable('redis-server')) {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    return redis.url
  }
  if (process.env.REDIS_URL !== undefined) return process.env.REDIS_URL
  throw new Error('no Redis')
}

async function newKey (app: FastifyInstance, token: string, payload: Record<string, unknown> = { name: 'script' }): Promise<CreatedApiKey> {
  const res = await app.inject({ method: 'POST', url: '/users/me/api-keys', headers: bearer(token), payload })
  if (res.statusCode !== 201) throw new Error(`key creation failed: ${res.statusCode} ${res.body}`)
  return res.json<CreatedApiKey>()
}
const me = (app: FastifyInstance, key: string) => app.inject({ url: '/users/me', headers: bearer(key) })
const addBook = (app: FastifyInstance, key: string) => app.inject({ method: 'POST', url: '/books', headers: bearer(key), payload: SAMPLE_BOOK })

if (!binaryAvailable('redis-server') && process.env.REDIS_URL === undefined) {
  t.test('API keys on two instances', { skip: 'no redis-server binary and no REDIS_URL' }, () => {})
} else {
  t.test('revocation, level change and deletion on one instance hold on the other at once', async (t) => {
    const { a, b } = await twoInstances(t, { redisUrl: await redisFor(t) })
    const author = await userWith(a, Permission.Author)
    const key = await newKey(a, author.token, { name: 'writer', permission: 2 })
    // Both instances have the check cached now.
    for (const app of [a, b, a, b]) t.equal((await me(app, key.key)).statusCode, 200)
    t.equal((await addBook(b, key.key)).statusCode, 201)

    const admin = await signIn(a, ADMIN.email, ADMIN.password)
    t.equal((await a.inject({ method: 'PATCH', url: `/users/${author.id}`, headers: bearer(admin), payload: { permission: 1 } })).statusCode, 200)
    t.equal((await addBook(b, key.key)).statusCode, 403, 'lowered on a: b acts at the new level')
    t.equal((await a.inject({ method: 'PATCH', url: `/users/${author.id}`, headers: bearer(admin), payload: { permission: 2 } })).statusCode, 200)
    t.equal((await addBook(b, key.key)).statusCode, 201)

    t.equal((await a.inject({ method: 'DELETE', url: `/users/me/api-keys/${key.id}`, headers: bearer(author.token) })).statusCode, 204)
    for (const app of [b, a]) {
      const res = await me(app, key.key)
      t.equal(res.statusCode, 401, 'revoked on a: refused on both')
      t.equal(res.json().code, 'API_KEY_INVALID')
    }

    const other = await newKey(a, author.token)
    t.equal((await me(b, other.key)).statusCode, 200)
    t.equal((await a.inject({ method: 'DELETE', url: `/users/${author.id}`, headers: bearer(admin) })).statusCode, 204)
    t.equal((await me(b, other.key)).json().code, 'API_KEY_INVALID', 'the user deleted on a: the key is refused on b')
  })

  t.test('the per-key limit counts across instances', async (t) => {
    const { a, b } = await twoInstances(t, { redisUrl: await redisFor(t), apiKeyRateLimit: 4 })
    const user = await userWith(a, Permission.User)
    const key = await newKey(a, user.token)
    for (const app of [a, b, a, b]) t.equal((await me(app, key.key)).statusCode, 200)
    for (const app of [a, b]) {
      const res = await me(app, key.key)
      t.equal(res.statusCode, 429)
      t.equal(res.json().code, 'RATE_LIMITED')
      t.ok(Number(res.headers['retry-after']) >= 1)
    }
  })
}

if (binaryAvailable('redis-server') || process.env.REDIS_URL !== undefined) {
  t.test('with Redis, a key\'s check comes from the cache on either instance once each has read it', async (t) => {
    const { a, b } = await twoInstances(t, { redisUrl: await redisFor(t) })
    const user = await userWith(a, Permission.User)
    const key = await newKey(a, user.token)
    // Each instance's first read of a namespace may go to the database (src/cache/coherent.ts).
    for (const app of [a, b]) t.equal((await me(app, key.key)).statusCode, 200)
    let lookups = 0
    for (const app of [a, b]) {
      const store = app.stores.apiKeys
      const lookup = store.lookup
      store.lookup = async (...args) => { lookups++; return lookup(...args) }
      t.teardown(() => { store.lookup = lookup })
    }
    for (const app of [a, b, a, b, a, b]) t.equal((await me(app, key.key)).statusCode, 200)
    t.equal(lookups, 0, 'six requests on two instances, no database read of the key')
  })
}
