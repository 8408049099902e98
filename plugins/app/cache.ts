import fp from 'fastify-plugin'
import { createCircuitBreaker, type CircuitState } from '../../src/cache/breaker'
import { createCoherentCache, type CoherenceStats } from '../../src/cache/coherent'
import { followExternalWrites } from '../../src/cache/external-writes'
import { createMemoryCache } from '../../src/cache/memory'
import { createRedisCache } from '../../src/cache/redis'
import type { KeyValueCache } from '../../src/cache/types'
import { sharedRedis } from '../external/redis'

declare module 'fastify' {
  interface FastifyInstance {
    cache: KeyValueCache
    /** Redis only: the circuit breaker's state and counts (the in-process cache has none). */
    cacheCircuit?: { state: () => CircuitState, stats: () => { passed: number, shortCircuited: number } }
    /** Redis only: what the coherence guard has seen (losses, and per namespace reads, hits, refusals). */
    cacheCoherence?: { stats: () => CoherenceStats }
  }
}

/**
 * In process on the embedded default, following the writes other processes make to the same
 * SQLite file (src/cache/external-writes.ts: `npm run seed` beside the running service is read
 * at once); with MySQL it cannot, so other instances' writes show within the TTL there.
 * Redis (shared by every instance, so every write invalidates it for all) when REDIS_URL is set,
 * behind a circuit breaker (src/cache/breaker.ts: a failing Redis is not asked again for a
 * cool-down) and the coherence guard (src/cache/coherent.ts: after a loss, nothing cached is
 * trusted until it has been invalidated). The coherence guard is outside, so it sees the
 * breaker's at-once refusals as the losses they are.
 */
export default fp(async function cachePlugin (fastify) {
  const redis = sharedRedis(fastify)
  let cache: KeyValueCache
  if (redis === undefined) {
    const { dataVersion } = fastify.stores
    cache = dataVersion === undefined ? createMemoryCache() : followExternalWrites(createMemoryCache(), dataVersion)
  } else {
    const log = fastify.log.child({ module: 'cache' })
    // The Redis client belongs to the redis-client plugin, which closes it; close() here stops timers only.
    const direct = createRedisCache(redis, { namespace: fastify.config.cacheNamespace })
    const breaker = createCircuitBreaker(direct, { log })
    // A write's invalidation goes to Redis even while the circuit is open (src/cache/coherent.ts).
    const coherent = createCoherentCache(breaker.cache, { log, direct })
    cache = coherent.cache
    fastify.decorate('cacheCircuit', { state: breaker.state, stats: breaker.stats })
    fastify.decorate('cacheCoherence', { stats: coherent.stats })
  }
  fastify.decorate('cache', cache)
  fastify.addHook('onClose', async () => {
    await cache.close()
  })
}, { name: 'cache', dependencies: ['config', 'redis-client', 'stores'] })
