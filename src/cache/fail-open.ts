import type { FastifyBaseLogger } from 'fastify'
import { CacheUnavailableError } from './breaker'

interface FailOpenOptions {
  log: FastifyBaseLogger
  /** The cache's name, for the log line. */
  cache: string
  /** What was tried, as the log says it: `cache read`, `sign-in throttle update`. */
  what: string
  /** What the caller does instead: `using the store`, `not throttling`. */
  instead: string
}

/**
 * A cache call whose failure must not fail the request: the cache only saves work (or, for the
 * sign-in throttle, a cache outage must not lock every user out). On failure it resolves to
 * `fallback` and logs: at debug for an open circuit, which refuses every call at once and was
 * logged when it opened; at warn for anything else.
 */
export async function failOpen<T, F> (call: () => Promise<T>, fallback: F, { log, cache, what, instead }: FailOpenOptions): Promise<T | F> {
  try {
    return await call()
  } catch (err) {
    if (err instanceof CacheUnavailableError) log.debug({ cache, reason: err.message }, `${what} skipped; ${instead}`)
    else log.warn({ err, cache }, `${what} failed; ${instead}`)
    return fallback
  }
}
