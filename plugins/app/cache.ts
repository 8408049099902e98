import fp from 'fastify-plugin'
import { createMemoryCache } from '../../src/cache/memory'
import type { KeyValueCache } from '../../src/cache/types'

declare module 'fastify' {
  interface FastifyInstance {
    cache: KeyValueCache
  }
}

/** In process on the embedded default; Redis (shared by every instance) when REDIS_URL is set. */
export default fp(async function cachePlugin (fastify) {
  const cache = createMemoryCache()
  fastify.decorate('cache', cache)
  fastify.addHook('onClose', async () => {
    await cache.close()
  })
}, { name: 'cache', dependencies: ['config', 'redis-client'] })
