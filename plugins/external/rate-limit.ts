import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import { rateLimited } from '../../src/http/errors'
import { sharedRedis } from './redis'

/**
 * Per-address limits, opted into by each route's `config.rateLimit` (only the sign-up and
 * sign-in routes). The counters live in Redis when it is configured, so every instance
 * shares them; in process otherwise.
 */
export default fp(async function rateLimitPlugin (fastify) {
  const redis = sharedRedis(fastify)
  await fastify.register(rateLimit, {
    global: false,
    ...(redis === undefined ? {} : { redis, nameSpace: `${fastify.config.cacheNamespace}:rate-limit:`, skipOnError: true }),
    errorResponseBuilder: (_request, context) => rateLimited(context.ttl)
  })
}, { name: 'rate-limit', dependencies: ['config', 'redis-client'] })
