import fp from 'fastify-plugin'
import { createMemoryCache } from '../../src/cache/memory'
import { createRedisCache } from '../../src/cache/redis'
import type { KeyValueCache } from '../../src/cache/types'
import { sharedRedis } from '../external/redis'

declare module 'fastify' {
  interface FastifyInstance {
    cache: KeyValueCache
  }
}

/** In process on the embedded default; Redis (shared by every instance) when REDIS_URL is set. */
export default fp(async function cachePlugin (fastify) {
  const redis = sharedRedis(fastify)
  // The Redis client belongs to the redis-client plugin, which closes it; close() here is a no-op for it.
  const cache = redis === undefined
    ? createMemoryCache()
    : createRedisCache(redis, { namespace: fastify.config.cacheNamespace })
  fastify.decorate('cache', cache)
  fastify.addHook('onClose', async () => {
    await cache.close()
  })
}, { name: 'cache', dependencies: ['config', 'redis-client'] })
