import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared Redis client when REDIS_URL is set; undefined on the embedded default. */
    redisClient: Redis | undefined
  }
}

/** Placeholder until the Redis backend lands: the embedded default has no Redis client. */
export default fp(async function redisClientPlugin (fastify) {
  fastify.decorate('redisClient', undefined)
}, { name: 'redis-client', dependencies: ['config'] })
