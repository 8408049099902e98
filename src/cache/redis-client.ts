import { Redis, type RedisOptions } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'

/**
 * ioredis' defaults suit a queue worker, not a cache in front of a database: they queue
 * commands while disconnected and retry each 20 times, so a GET stays pending long after
 * Redis died, and for ever while it is frozen. With these, every command fails at
 * once while the connection is down and after `commandTimeout` while Redis is frozen,
 * and the connection itself is retried for ever in the background.
 */
export const REDIS_CLIENT_OPTIONS = {
  // A command answers within this or rejects; callers fall back to the database. Short: a
  // healthy Redis answers in well under a millisecond, so 200 ms is only ever a frozen or
  // overloaded one, and it is what a read pays before the circuit breaker opens
  // (src/cache/breaker.ts: after three in a row no call waits on Redis at all).
  commandTimeout: 200,
  connectTimeout: 1000,
  // Disconnected: reject at once instead of queueing for the reconnect.
  enableOfflineQueue: false,
  // A command caught in flight by a dropped connection is retried once, then rejected...
  maxRetriesPerRequest: 1,
  // ...and never replayed after a reconnect: its caller has long given up on it.
  autoResendUnfulfilledCommands: false,
  enableReadyCheck: true,
  // A socket that a frozen Redis never closes is destroyed this long after we end it.
  disconnectTimeout: 500,
  // Reconnect for ever, backing off to 2 s; readiness reports the outage meanwhile.
  retryStrategy: (times: number) => Math.min(times * 200, 2000),
  // The owner opens the first connection (connect()), so it can wait for it and log.
  lazyConnect: true
} satisfies RedisOptions

/** A dead Redis emits an error per reconnect attempt; log the first, then one per interval. */
const ERROR_LOG_INTERVAL_MS = 30_000

interface WatchedRedis {
  client: Redis
  /** The latest connection error: says more than the "Stream isn't writeable" a command gets. */
  lastError (): Error | undefined
}

/**
 * A client with the options above whose 'error' events are always handled (an unhandled one
 * would crash the process) and logged without flooding: the first, then one per interval
 * with the count of those left out, and one line when the connection is back.
 */
export function createRedisClient (url: string, log: FastifyBaseLogger): WatchedRedis {
  const client = new Redis(url, REDIS_CLIENT_OPTIONS)
  let lastError: Error | undefined
  let lastLogged = 0
  let suppressed = 0
  let failing = false
  client.on('error', (err: Error) => {
    lastError = err
    failing = true
    const now = Date.now()
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) {
      suppressed++
      return
    }
    log.warn({ err, suppressed }, 'redis connection error; reconnecting in the background')
    lastLogged = now
    suppressed = 0
  })
  client.on('ready', () => {
    if (!failing) return
    failing = false
    lastLogged = 0
    log.info({ suppressed }, 'redis connection restored')
    suppressed = 0
  })
  return { client, lastError: () => lastError }
}
