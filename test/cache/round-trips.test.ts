import t from 'tap'
import { Redis } from 'ioredis'
import { SAMPLE_BOOK, bearer, build, skipSuite, userWith } from '../support/app'
import { binaryAvailable, throwawayRedis } from '../support/servers'

/** A cached read costs one Redis round trip: the generation and the entry come back together. */

/** Commands Redis ran since the last CONFIG RESETSTAT, by name, our own INFO left out. */
async function commandsRun (redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats')
  const counts: Record<string, number> = {}
  for (const [, name, calls] of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
    if (name !== undefined && name !== 'info' && name !== 'config|resetstat') counts[name] = Number(calls)
  }
  return counts
}

if (!binaryAvailable('redis-server')) {
  skipSuite(t, 'Redis round-trip suite', 'no redis-server binary on PATH (npm run services installs it)')
} else {
  t.test('a cached GET /books/:id or page is one EVALSHA; a write\'s invalidation is one more', async (t) => {
    const server = await throwawayRedis()
    t.teardown(() => server.kill())
    const app = await build(t, { redisUrl: server.url })
    const author = await userWith(app, 2)
    const book = (await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).json<{ id: number }>()
    const probe = new Redis(server.url)
    t.teardown(() => probe.quit())

    for (const url of [`/books/${book.id}`, '/books?limit=3']) {
      await app.inject({ url })
      await probe.config('RESETSTAT')
      const res = await app.inject({ url })
      t.equal(res.statusCode, 200)
      // Commands a script runs count too: the generation's GET and the entry's GET run inside it.
      t.same(await commandsRun(probe), { evalsha: 1, get: 2 }, `${url} from the cache: one round trip, one EVALSHA`)
    }

    await probe.config('RESETSTAT')
    t.equal((await app.inject({ method: 'PUT', url: `/books/${book.id}`, headers: bearer(author.token), payload: SAMPLE_BOOK })).statusCode, 200)
    // The EVALSHA (and its two GETs) is the permission hook's session check (plugins/app/auth.ts),
    // generation-scoped like books (src/services/sessions.ts).
    // The other EVALSHA is the invalidation: one round trip that reads the old generation's
    // stamp, Redis' clock, and stores the new generation stamped above both (src/cache/redis.ts).
    t.same(await commandsRun(probe), { evalsha: 2, get: 3, time: 1, set: 1 }, 'a write starts a new generation in one EVALSHA')
  })
}

if (binaryAvailable('redis-server')) {
  t.test('a cached GET /books/:id with an API key costs what it costs without one: no read of the key, the same one EVALSHA', async (t) => {
    const server = await throwawayRedis()
    t.teardown(() => server.kill())
    const app = await build(t, { redisUrl: server.url })
    const author = await userWith(app, 2)
    const book = (await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).json<{ id: number }>()
    const key = (await app.inject({ method: 'POST', url: '/users/me/api-keys', headers: bearer(author.token), payload: { name: 'reader' } })).json<{ key: string }>().key
    const probe = new Redis(server.url)
    t.teardown(() => probe.quit())
    const store = app.stores.apiKeys
    const lookup = store.lookup
    let lookups = 0
    store.lookup = async (...args) => { lookups++; return lookup(...args) }
    t.teardown(() => { store.lookup = lookup })

    await app.inject({ url: `/books/${book.id}` })
    for (const headers of [{}, bearer(key), bearer(author.token)]) {
      await probe.config('RESETSTAT')
      const res = await app.inject({ url: `/books/${book.id}`, headers })
      t.equal(res.statusCode, 200)
      t.same(await commandsRun(probe), { evalsha: 1, get: 2 }, 'one round trip to Redis, for the book')
    }
    t.equal(lookups, 0, 'the key was never read: a public route ignores credentials')
  })
}
