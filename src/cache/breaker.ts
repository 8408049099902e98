import type { FastifyBaseLogger } from 'fastify'
import { withDeadline } from '../deadline'
import type { KeyValueCache } from './types'

/** What a call answers at once, without asking the cache, while the circuit is open. */
export class CacheUnavailableError extends Error {
  override name = 'CacheUnavailableError'
  readonly code = 'CACHE_UNAVAILABLE'
}

export type CircuitState = 'closed' | 'open' | 'half-open'

interface BreakerOptions {
  log: FastifyBaseLogger
  /** Consecutive failed calls (errors or timeouts) that open the circuit. */
  failureThreshold?: number
  /** How long the circuit stays open before a probe. */
  coolDownMs?: number
  /** A probe that has not answered by then has failed. */
  probeTimeoutMs?: number
}

interface CircuitBreaker {
  /** The cache as callers see it: every call of `inner`, or an at-once CacheUnavailableError while open. */
  readonly cache: KeyValueCache
  state (): CircuitState
  /** Calls that reached the cache, and calls answered at once because the circuit was open. */
  stats (): { passed: number, shortCircuited: number }
}

/**
 * A small circuit breaker around a KeyValueCache, so every user of the cache (books, session
 * checks, the sign-in throttle, idempotency keys, readiness) stops waiting on one that fails.
 *
 * closed: calls pass; `failureThreshold` consecutive failures open the circuit.
 * open: every call rejects at once (nothing is sent); after `coolDownMs` the breaker itself
 * sends one PING, in the background (half-open). Callers never wait on a probe: a caller's
 * request is never the one that finds out whether the cache is back, so no read pays a
 * timeout after the first failures. The PING answering closes the circuit; failing, it
 * stays open for another cool-down.
 *
 * A cache in process cannot fail or wait, so only the Redis cache is wrapped (plugins/app/cache.ts).
 */
export function createCircuitBreaker (inner: KeyValueCache, {
  log,
  failureThreshold = 3,
  coolDownMs = 1000,
  probeTimeoutMs = 1000
}: BreakerOptions): CircuitBreaker {
  let state: CircuitState = 'closed'
  let failures = 0
  let timer: NodeJS.Timeout | undefined
  let closed = false
  let passed = 0
  let shortCircuited = 0
  // One error per state, made once: an open circuit answers thousands of calls a second, and
  // capturing a stack for each would cost more than the database read it sends them to.
  const refusals = {
    open: new CacheUnavailableError(`${inner.name} circuit is open`),
    'half-open': new CacheUnavailableError(`${inner.name} circuit is half-open (probing)`)
  }

  function open (err: unknown): void {
    if (state === 'closed') {
      log.warn({ err, cache: inner.name, failures, coolDownMs }, 'cache circuit open: calls go to the database until a probe answers')
    }
    state = 'open'
    clearTimeout(timer)
    if (closed) return
    timer = setTimeout(probe, coolDownMs)
    timer.unref()
  }

  function probe (): void {
    state = 'half-open'
    withDeadline(inner.ping(), probeTimeoutMs, `${inner.name} probe`).then(() => {
      if (closed || state !== 'half-open') return
      state = 'closed'
      failures = 0
      log.info({ cache: inner.name }, 'cache circuit closed: the probe answered')
    }, (err: unknown) => {
      log.debug({ err, cache: inner.name }, 'cache probe failed; circuit stays open')
      open(err)
    })
  }

  async function call<T> (run: () => Promise<T>): Promise<T> {
    if (state !== 'closed') {
      shortCircuited++
      throw refusals[state]
    }
    passed++
    try {
      const result = await run()
      failures = 0
      return result
    } catch (err) {
      // A call sent before the circuit opened and failing after adds nothing: the probe decides.
      if (state === 'closed' && ++failures >= failureThreshold) open(err)
      throw err
    }
  }

  const cache: KeyValueCache = {
    name: inner.name,
    get: (key) => call(() => inner.get(key)),
    set: (key, value, ttl) => call(() => inner.set(key, value, ttl)),
    setIfAbsent: (key, value, ttl) => call(() => inner.setIfAbsent(key, value, ttl)),
    incr: (key, ttl) => call(() => inner.incr(key, ttl)),
    peek: (key) => call(() => inner.peek(key)),
    del: (key) => call(() => inner.del(key)),
    readGeneration: (ns, key, fresh, ttl) => call(() => inner.readGeneration(ns, key, fresh, ttl)),
    writeGeneration: (ns, generation, key, value, ttl) => call(() => inner.writeGeneration(ns, generation, key, value, ttl)),
    startGeneration: (ns, next, ttl) => call(() => inner.startGeneration(ns, next, ttl)),
    // Readiness pings through here: while open it answers "down" at once, which is the truth.
    ping: () => call(() => inner.ping()),
    onReset: (listener) => inner.onReset?.(listener),
    async close () {
      closed = true
      clearTimeout(timer)
      await inner.close()
    }
  }
  return { cache, state: () => state, stats: () => ({ passed, shortCircuited }) }
}
