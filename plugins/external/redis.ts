import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import type { Redis } from 'ioredis'
import { createRedisClient } from '../../src/cache/redis-client'
import { withDeadline } from '../../src/deadline'
import { waitFor } from '../../src/wait-for'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared Redis client when REDIS_URL is set; undefined on the embedded default. */
    redisClient: Redis | undefined
  }
}

/** One start-up attempt may not hang the wait (a frozen Redis accepts TCP and never answers). */
const ATTEMPT_TIMEOUT_MS = 3000

/**
 * The Redis client, when REDIS_URL is set. Start-up waits, with backoff and a warning per
 * failed attempt, until Redis answers PING, then registers @fastify/redis with the client so
 * `fastify.redis` exists too. The cache, the sign-in throttle and the rate limiter share
 * this one connection; src/cache/redis-client.ts says how it fails.
 */
export default fp(async function redisClientPlugin (fastify) {
  const { redisUrl } = fastify.config
  if (redisUrl === undefined) {
    fastify.decorate('redisClient', undefined)
    return
  }
  const log = fastify.log.child({ module: 'redis' })
  const { client, lastError } = createRedisClient(redisUrl, log)

  try {
    await waitFor('redis', async () => {
      try {
        await withDeadline((async () => {
          // The first attempt opens the connection; after that ioredis reconnects on its own.
          if (client.status === 'wait') await client.connect()
          await client.ping()
        })(), ATTEMPT_TIMEOUT_MS, 'redis')
      } catch (err) {
        throw client.status === 'ready' ? err : (lastError() ?? err)
      }
    }, { log })
  } catch (err) {
    client.disconnect()
    throw err
  }

  // Closed here, not by @fastify/redis (closeClient: true): its onClose awaits QUIT, which
  // this client rejects while Redis is down (no offline queue) or frozen (commandTimeout);
  // app.close() then fails and the client is left reconnecting for ever.
  await fastify.register(fastifyRedis, { client, closeClient: false })
  fastify.decorate('redisClient', client)
  fastify.addHook('onClose', async () => {
    if (client.status === 'ready') {
      try {
        await client.quit()
        return
      } catch (err) {
        log.warn({ err }, 'redis did not acknowledge QUIT; dropping the connection')
      }
    }
    // Also cancels a pending reconnect; a socket a frozen Redis holds open is destroyed after disconnectTimeout.
    client.disconnect()
  })
  log.info('redis ready')
}, { name: 'redis-client', dependencies: ['config'] })
