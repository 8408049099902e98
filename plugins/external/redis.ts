import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { withDeadline } from '../../src/deadline'
import { startupWait, waitFor } from '../../src/wait-for'

/**
 * The shared Redis client, `fastify.redis`, when REDIS_URL is set; undefined on the embedded
 * default. @fastify/redis types the decorator as always there, so readers ask through this.
 */
export function sharedRedis (fastify: FastifyInstance): Redis | undefined {
  return fastify.hasDecorator('redis') ? fastify.redis : undefined
}

/** One start-up attempt may not hang the wait (a frozen Redis accepts TCP and never answers). */
const ATTEMPT_TIMEOUT_MS = 3000

/**
 * @fastify/redis, when REDIS_URL is set, with a client made as src/cache/redis-client.ts says
 * (how it fails is decided there). Start-up waits, with backoff and a warning per failed
 * attempt, until Redis answers PING, for at most STARTUP_WAIT_SECONDS. The cache, the sign-in throttle and the rate limiter
 * share this one connection.
 */
export default fp(async function redisClientPlugin (fastify) {
  const { redisUrl } = fastify.config
  if (redisUrl === undefined) return
  // Required only when configured: the embedded default never holds the Redis client.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { default: fastifyRedis } = require('@fastify/redis') as typeof import('@fastify/redis')
  const { createRedisClient } = require('../../src/cache/redis-client') as typeof import('../../src/cache/redis-client')
  /* eslint-enable @typescript-eslint/no-require-imports */
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
    }, startupWait(fastify, redisUrl, log))
  } catch (err) {
    client.disconnect()
    throw err
  }

  // Closed here, not by @fastify/redis (closeClient: true): its onClose awaits QUIT, which
  // this client rejects while Redis is down (no offline queue) or frozen (commandTimeout);
  // app.close() then fails and the client is left reconnecting for ever.
  await fastify.register(fastifyRedis, { client, closeClient: false })
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
