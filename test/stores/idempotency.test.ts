import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { createMemoryCache } from '../../src/cache/memory'
import { createRedisCache } from '../../src/cache/redis'
import { REDIS_CLIENT_OPTIONS } from '../../src/cache/redis-client'
import type { KeyValueCache } from '../../src/cache/types'
import { createIdempotencyStore, fingerprintOf } from '../../src/stores/idempotency'
import { skipSuite } from '../support/app'

const DAY_MS = 24 * 3600 * 1000

/** Deleting an account forgets the recorded successes of its idempotent requests, and only those. */
function forgettingContract (t: Test, cache: KeyValueCache): void {
  const store = createIdempotencyStore(cache, 1000)
  const recorded = (body: string) => ({ fingerprint: fingerprintOf({ body }), statusCode: 201, location: '/reviews/1', body })
  const userId = 1_000_000 + Math.floor(Math.random() * 1_000_000_000)

  t.test('forgets every record of the user, keeps everyone else\'s, and is harmless to repeat', async (t) => {
    const mine = ['a', 'b', 'c'].map((key) => store.slot('POST /reviews', userId, key))
    const theirs = store.slot('POST /reviews', userId + 1, 'a')
    for (const slot of mine) await store.record(slot, userId, recorded('{"author":"me@example.com"}'))
    await store.record(store.slot('POST /books', userId, 'a'), userId, recorded('{}'))
    await store.record(theirs, userId + 1, recorded('{"author":"them@example.com"}'))
    t.ok(await store.recorded(mine[0] ?? ''), 'recorded')

    t.equal(await store.forgetUser(userId), 4)
    for (const slot of mine) t.equal(await store.recorded(slot), undefined, slot)
    t.equal(await store.recorded(store.slot('POST /books', userId, 'a')), undefined, 'on every route')
    t.same(await store.recorded(theirs), recorded('{"author":"them@example.com"}'), 'another user\'s stays')
    t.equal(await store.forgetUser(userId), 0, 'again: nothing left')
    t.equal(await store.forgetUser(userId + 2), 0, 'a user with none')

    await store.record(mine[0] ?? '', userId, recorded('{}'))
    t.equal(await store.forgetUser(userId), 1, 'a record made after a forget is listed afresh')
  })

  t.test('a record made yesterday is forgotten too', async (t) => {
    const realNow = Date.now
    const slot = store.slot('POST /reviews', userId + 10, 'late')
    try {
      // Just before midnight UTC yesterday, by this process's clock.
      Date.now = () => Math.floor(realNow() / DAY_MS) * DAY_MS - 1000
      await store.record(slot, userId + 10, recorded('{}'))
    } finally {
      Date.now = realNow
    }
    t.ok(await store.recorded(slot))
    t.equal(await store.forgetUser(userId + 10), 1)
    t.equal(await store.recorded(slot), undefined)
  })
}

t.test('in process', async (t) => {
  const cache = createMemoryCache()
  t.teardown(() => cache.close())
  forgettingContract(t, cache)
})

const { REDIS_URL } = process.env
if (REDIS_URL === undefined) {
  skipSuite(t, 'idempotency records on Redis', 'set REDIS_URL=redis://... (npm run services prints it)')
} else {
  t.test('on Redis', async (t) => {
    const namespace = `bookstore-test-${randomUUID()}`
    const client = new Redis(REDIS_URL, REDIS_CLIENT_OPTIONS)
    await client.connect()
    t.teardown(async () => {
      const keys = await client.keys(`${namespace}:*`)
      if (keys.length > 0) await client.del(...keys)
      client.disconnect()
    })
    forgettingContract(t, createRedisCache(client, { namespace }))
  })
}
