import fp from 'fastify-plugin'
import { createMemoryCache } from '../../src/cache/memory'
import { createRedisCache } from '../../src/cache/redis'
import type { KeyValueCache } from '../../src/cache/types'

declare module 'fastify' {
  interface FastifyInstance {
    cache: KeyValueCache
  }
}

/** In process on the embedded default; Redis (shared by every instance) when REDIS_URL is set. */
export default fp(async function cachePlugin (fastify) {
  const { redisClient, config } = fastify
  // The Redis client belongs to the redis-client plugin, which closes it; close() here is a no-op for it.
  const cache = redisClient === undefined
    ? createMemoryCache()
    : createRedisCache(redisClient, { namespace: config.cacheNamespace })
  fastify.decorate('cache', cache)
  fastify.addHook('onClose', async () => {
    await cache.close()
  })
}, { name: 'cache', dependencies: ['config', 'redis-client'] })
