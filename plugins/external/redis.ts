import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { RedisClient } from '../../src/cache/redis-client'
import { withDeadline } from '../../src/deadline'
import { startupWait, waitFor } from '../../src/wait-for'

/**
 * The shared Redis client, `fastify.redis`, when REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES is set; undefined on the embedded
 * default. @fastify/redis types the decorator as always there, so readers ask through this.
 */
export function sharedRedis (fastify: FastifyInstance): RedisClient | undefined {
  return fastify.hasDecorator('redis') ? fastify.redis as RedisClient : undefined
}

/** One start-up attempt may not hang the wait (a frozen Redis accepts TCP and never answers). */
const ATTEMPT_TIMEOUT_MS = 3000

/**
 * @fastify/redis, when a Redis is configured (config.redis), with a client made as src/cache/redis-client.ts says
 * (how it fails is decided there). Start-up waits, with backoff and a warning per failed
 * attempt, until Redis answers PING, for at most STARTUP_WAIT_SECONDS. The cache, the sign-in throttle and the rate limiter
 * share this one connection.
 */
export default fp(async function redisClientPlugin (fastify) {
  const target = fastify.config.redis
  if (target === undefined) return
  // Required only when configured: the embedded default never holds the Redis client.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { default: fastifyRedis } = require('@fastify/redis') as typeof import('@fastify/redis')
  const { createRedisClient, redisAddress, traceRedisCommands } = require('../../src/cache/redis-client') as typeof import('../../src/cache/redis-client')
  /* eslint-enable @typescript-eslint/no-require-imports */
  const log = fastify.log.child({ module: 'redis' })
  const { client, lastError, stop } = createRedisClient(target, log)
  traceRedisCommands(client, fastify.tracing)

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
    }, startupWait(fastify, redisAddress(target), log))
  } catch (err) {
    stop()
    client.disconnect()
    throw err
  }

  // Closed here, not by @fastify/redis (closeClient: true): its onClose awaits QUIT, which
  // this client rejects while Redis is down (no offline queue) or frozen (commandTimeout);
  // app.close() then fails and the client is left reconnecting for ever.
  await fastify.register(fastifyRedis, { client, closeClient: false })
  fastify.addHook('onClose', async () => {
    stop()
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
