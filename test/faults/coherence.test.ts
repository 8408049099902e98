import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import type { Book } from '../../src/schemas/book'
import { bearer, SAMPLE_BOOK, signUp, skipSuite, startSession, twoInstances, userWith } from '../support/app'
import { binaryAvailable, throwawayRedis, type Throwaway } from '../support/servers'

/**
 * Cache coherence across outages (src/cache/coherent.ts), on private redis-servers that the
 * tests kill and restart on their own append-only file, so the restart brings back every
 * entry as it was before the kill. What must hold: no read, on any instance, misses a write
 * that succeeded while Redis was down, and no session ended meanwhile is admitted again.
 */

const REVOKED = { statusCode: 401, code: 'TOKEN_REVOKED', error: 'Unauthorized', message: 'invalid token' }

/** How long the tests keep reading after a restart: past Redis' reconnect (up to 2 s) and the circuit's cool-down (1 s). */
const WATCH_MS = 4000

/** A plain client of the test's own, to look at (and tamper with) what Redis holds. */
function probe (t: Test, redis: Throwaway): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  return client
}

const titleOf = async (app: FastifyInstance, url: string): Promise<string[]> => {
  const res = await app.inject({ url })
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`)
  const body = res.json<Book | Book[]>()
  return (Array.isArray(body) ? body : [body]).map((b) => b.title)
}

if (!binaryAvailable('redis-server')) {
  skipSuite(t, 'cache coherence suite', 'no redis-server binary on PATH (npm run services installs it)')
} else {
  t.test('a write made while Redis was down is read at once on every instance after Redis comes back from its AOF', async (t) => {
    const redis = await throwawayRedis({ appendOnly: true })
    t.teardown(() => redis.dispose())
    const { a, b, namespace } = await twoInstances(t, { redisUrl: redis.url })
    const author = await userWith(a, 2)
    const tag = randomUUID().slice(0, 8)
    const created = await a.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Before ${tag}` } })
    t.equal(created.statusCode, 201)
    const book = created.json<Book>()
    const urls = [`/books/${book.id}`, `/books?q=${tag}&limit=100`]
    for (const app of [a, b]) for (const url of urls) for (let i = 0; i < 2; i++) t.same(await titleOf(app, url), [`Before ${tag}`])

    const look = probe(t, redis)
    const before = await look.get(`${namespace}:books:generation`)
    const entry = `${namespace}:books:${String(before)}:book:${book.id}`
    t.equal(await look.exists(entry), 1, 'the book is cached, and on disk (appendfsync always)')

    await redis.kill()
    const put = await a.inject({ method: 'PUT', url: `/books/${book.id}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `After ${tag}` } })
    t.equal(put.statusCode, 200, 'the write succeeds with Redis dead; its invalidation cannot')
    for (const app of [a, b]) for (const url of urls) t.same(await titleOf(app, url), [`After ${tag}`], 'read from the database meanwhile')

    await redis.start()
    const restarted = performance.now()
    t.equal(await look.exists(entry), 1, 'control: the restart brought the old entry back from the AOF')
    let reads = 0
    let stale = 0
    while (performance.now() - restarted < WATCH_MS) {
      for (const app of [a, b]) {
        for (const url of urls) {
          reads++
          if ((await titleOf(app, url))[0] !== `After ${tag}`) stale++
        }
      }
      await sleep(20)
    }
    t.equal(stale, 0, `0 stale of ${reads} reads in the ${WATCH_MS} ms after the restart`)
    t.not(await look.get(`${namespace}:books:generation`), before, 'the instances started a new generation before trusting Redis again')
    t.ok((await look.keys(`${namespace}:books:*:book:${book.id}`)).length >= 2, 'and cache under it again')
    for (const app of [a, b]) t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200, 'ready again')
  })

  t.test('a session ended while Redis was down stays ended after Redis comes back from its AOF', async (t) => {
    const redis = await throwawayRedis({ appendOnly: true })
    t.teardown(() => redis.dispose())
    const { a, b, namespace } = await twoInstances(t, { redisUrl: redis.url })
    const user = await signUp(a)
    const session = await startSession(a, user.email, user.password)
    const me = (app: FastifyInstance) => app.inject({ url: '/users/me', headers: bearer(session.token) })
    for (const app of [a, b]) t.equal((await me(app)).statusCode, 200, 'admitted, and the check cached')
    const look = probe(t, redis)
    const generation = await look.get(`${namespace}:sessions:generation`)
    const entry = `${namespace}:sessions:${String(generation)}:session:${session.sid}`
    t.equal(await look.exists(entry), 1, 'the live session is cached in Redis')

    await redis.kill()
    t.equal((await a.inject({ method: 'POST', url: '/users/sign-out', headers: bearer(session.token) })).statusCode, 204, 'sign-out with Redis dead')
    for (const app of [a, b]) t.same((await me(app)).json(), REVOKED, 'the database says ended')

    await redis.start()
    const restarted = performance.now()
    t.equal(await look.exists(entry), 1, 'control: the restart brought the "live" entry back')
    let checks = 0
    let admitted = 0
    while (performance.now() - restarted < WATCH_MS) {
      for (const app of [a, b]) {
        checks++
        const res = await me(app)
        if (res.statusCode !== 401 || res.json<{ code: string }>().code !== 'TOKEN_REVOKED') admitted++
      }
      await sleep(20)
    }
    t.equal(admitted, 0, `0 of ${checks} checks in the ${WATCH_MS} ms after the restart admitted the ended session`)
    for (const app of [a, b]) t.same((await me(app)).json(), REVOKED)
    t.not(await look.get(`${namespace}:sessions:generation`), generation, 'the restored entry is under a generation no one reads')
  })

  t.test('Redis going back to a superseded generation without a dropped connection is caught', async (t) => {
    // What a restore behind a proxy, or a lagging replica promoted in place, looks like from here.
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    const { a, namespace } = await twoInstances(t, { redisUrl: redis.url })
    const author = await userWith(a, 2)
    const created = (await a.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: 'Old' } })).json<Book>()
    const url = `/books/${created.id}`
    t.same(await titleOf(a, url), ['Old'])
    t.same(await titleOf(a, url), ['Old'], 'cached')
    const look = probe(t, redis)
    const old = await look.get(`${namespace}:books:generation`)
    t.equal((await a.inject({ method: 'PUT', url, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: 'New' } })).statusCode, 200)
    t.same(await titleOf(a, url), ['New'])
    t.same(await titleOf(a, url), ['New'], 'cached under the new generation')

    await look.set(`${namespace}:books:generation`, String(old))
    t.same(await titleOf(a, url), ['New'], 'the old generation, and its entry, are not trusted')
    t.match(a.cacheCoherence?.stats(), { losses: 1, found: { wentBack: 1, reset: 0 } }, 'told by its stamp, below the one Redis answered before')
    // The instance invalidates in the background (its first retry within 50 ms), then caches again.
    const caught = performance.now()
    while (await look.get(`${namespace}:books:generation`) === old && performance.now() - caught < 3000) await sleep(20)
    t.not(await look.get(`${namespace}:books:generation`), old, `a new generation replaced it within ${Math.round(performance.now() - caught)} ms`)
    t.same(await titleOf(a, url), ['New'])
    t.same(await titleOf(a, url), ['New'])
  })

  t.test('a generation key that expired or was evicted is not taken for Redis going back', async (t) => {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    const { a, namespace } = await twoInstances(t, { redisUrl: redis.url })
    const author = await userWith(a, 2)
    const created = (await a.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: 'Kept' } })).json<Book>()
    const url = `/books/${created.id}`
    t.same(await titleOf(a, url), ['Kept'])
    const look = probe(t, redis)
    const key = `${namespace}:books:generation`
    const before = String(await look.get(key))
    t.equal(await look.del(key), 1, 'what an eviction (or the end of its TTL) does')
    t.same(await titleOf(a, url), ['Kept'])
    t.same(await titleOf(a, url), ['Kept'])
    const after = String(await look.get(key))
    const stamp = (generation: string): number => Number(generation.split('.')[0])
    t.ok(stamp(after) > stamp(before), `the generation made in its place is stamped above (${stamp(after)} > ${stamp(before)}): Redis' clock moved on`)
    t.match(a.cacheCoherence?.stats(), { losses: 0, found: { failed: 0, reset: 0, wentBack: 0 } }, 'no loss')
  })

  t.test('no entry is used past the TTL it was written with, whatever expiry Redis keeps', async (t) => {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    const { a, namespace } = await twoInstances(t, { redisUrl: redis.url, cacheTtlSeconds: 1 })
    const author = await userWith(a, 2)
    const created = (await a.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: 'Cached' } })).json<Book>()
    const url = `/books/${created.id}`
    t.same(await titleOf(a, url), ['Cached'])
    const look = probe(t, redis)
    const keys = await look.keys(`${namespace}:books:*:book:${created.id}`)
    t.equal(keys.length, 1)
    // A restore that lost the expiry: the entry would live for ever in Redis.
    for (const key of keys) t.equal(await look.persist(key), 1)
    // Behind the cache's back (no invalidation), so only the entry's own deadline can hide it.
    t.ok(await a.stores.books.update(created.id, { ...SAMPLE_BOOK, title: 'Changed' }))
    t.same(await titleOf(a, url), ['Cached'], 'control: served from the cache within its TTL')
    await sleep(1200)
    t.same(await titleOf(a, url), ['Changed'], 'past its TTL the entry is not used, though Redis still holds it')
    t.equal(await look.exists(keys[0] ?? ''), 1)
  })
}
