import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import t from 'tap'
import { CacheUnavailableError } from '../../src/cache/breaker'
import { createCoherentCache } from '../../src/cache/coherent'
import { createMemoryCache } from '../../src/cache/memory'
import type { KeyValueCache } from '../../src/cache/types'

/**
 * The coherence guard's regression check (src/cache/coherent.ts, point 3), with answers the
 * test delivers in the order it chooses: what Redis serves is fixed when a call arrives, and
 * when this process handles the answer is another matter (issue 21).
 */

/** A Redis as the guard sees it: one namespace's stamp, answers held back until released. */
function fakeRedis () {
  let current = 0
  let holding = false
  const held: Array<() => void> = []
  const deliver = async <T>(value: T): Promise<T> => holding ? await new Promise<T>((resolve) => held.push(() => resolve(value))) : value
  const cache: KeyValueCache = {
    ...createMemoryCache(),
    name: 'fake',
    // Served at once (the stamp is read now), answered whenever the test releases it.
    readGeneration: async () => await deliver({ generation: `${current}.token`, value: undefined, stamp: current }),
    startGeneration: async () => await deliver(++current)
  }
  return {
    cache,
    /** Redis going back (a restore, a promoted replica): its stamp is set lower. */
    restore (stamp: number) { current = stamp },
    hold () { holding = true },
    /** Releases the held answers, in the order of their indexes (0: the first call held). */
    async release (order: number[]) {
      holding = false
      for (const i of order) {
        held[i]?.()
        await sleep(1)
      }
      held.length = 0
    }
  }
}

const silent = pino({ level: 'silent' })

t.test('answers handled in another order than Redis served them are not a loss', async (t) => {
  const redis = fakeRedis()
  const { cache, stats } = createCoherentCache(redis.cache, { log: silent })
  t.equal((await cache.readGeneration('books', 'k', 'f', 60)).stamp, 1, 'trusted after its own first invalidation')

  redis.hold()
  const early = cache.readGeneration('books', 'k', 'f', 60) // served at 1
  const write = cache.startGeneration('books', 'n', 60) // 2
  const late = cache.readGeneration('books', 'k', 'f', 60) // served at 2
  const other = cache.startGeneration('books', 'n', 60) // 3
  // The newest first, the read sent before the invalidations last: a check of the order in
  // which this process sent and handled them would take `early` for a regression.
  await redis.release([3, 2, 1, 0])
  t.same(await Promise.all([early, write, late, other]).then(([e, w, l, o]) => [e.stamp, w, l.stamp, o]), [1, 2, 2, 3])
  t.equal((await cache.readGeneration('books', 'k', 'f', 60)).stamp, 3)
  // Another instance's invalidations between two reads: Redis' stamp moved on meanwhile.
  redis.restore(10)
  t.equal((await cache.readGeneration('books', 'k', 'f', 60)).stamp, 10)
  t.same(stats(), { losses: 0, found: { failed: 0, reset: 0, wentBack: 0 }, namespaces: { books: { reads: 5, hits: 0, refused: 0 } } })
})

t.test('a stamp below one Redis answered before the read left is a loss, and the floors start again after it', async (t) => {
  const redis = fakeRedis()
  const { cache, stats } = createCoherentCache(redis.cache, { log: silent, retryMinMs: 5, retryMaxMs: 5 })
  await cache.readGeneration('books', 'k', 'f', 60)
  t.equal(await cache.startGeneration('books', 'n', 60), 2)
  t.equal((await cache.readGeneration('books', 'k', 'f', 60)).stamp, 2)

  // Restored from data older than both generations, and with a clock behind: the next
  // generation it makes is still below what this instance saw before the loss.
  redis.restore(0)
  await t.rejects(cache.readGeneration('books', 'k', 'f', 60), CacheUnavailableError, 'the answer is not used')
  t.match(stats(), { losses: 1, found: { wentBack: 1 } })
  await t.rejects(cache.readGeneration('books', 'k', 'f', 60), CacheUnavailableError, 'nor is the cache, until it is invalidated')
  await sleep(50)
  t.equal((await cache.readGeneration('books', 'k', 'f', 60)).stamp, 1, 'invalidated in the background: trusted again, at the lower stamp')
  t.match(stats(), { losses: 1, found: { failed: 0, reset: 0, wentBack: 1 }, namespaces: { books: { refused: 2 } } })
  await cache.close()
})

t.test('generations without a stamp (stored by an older release, during a rolling upgrade) are never taken for a regression', async (t) => {
  const redis = fakeRedis()
  const { cache, stats } = createCoherentCache({
    ...redis.cache,
    readGeneration: async (...args) => {
      const read = await redis.cache.readGeneration(...args)
      return read.stamp === 1 ? { generation: 'plain-uuid', value: undefined } : read
    }
  }, { log: silent })
  await cache.readGeneration('books', 'k', 'f', 60)
  await cache.startGeneration('books', 'n', 60)
  t.equal((await cache.readGeneration('books', 'k', 'f', 60)).stamp, 2)
  redis.restore(1)
  t.equal((await cache.readGeneration('books', 'k', 'f', 60)).generation, 'plain-uuid')
  t.equal(stats().losses, 0)
})
