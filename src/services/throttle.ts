import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { failOpen } from '../cache/fail-open'
import type { KeyValueCache } from '../cache/types'
import { signInThrottled } from '../domain/errors'

interface Deps {
  /** Holds the per-email failure counters; Redis when configured, so instances share them. */
  counters: Pick<KeyValueCache, 'name' | 'incr' | 'peek' | 'del'>
  maxFailures: number
  windowMinutes: number
  log: FastifyBaseLogger
}

/**
 * The per-email failure counter that every password check of an account goes through (a
 * sign-in, a password change), so a password cannot be guessed past it by switching routes.
 */
export function createSignInThrottle ({ counters, maxFailures, windowMinutes, log }: Deps) {
  // The counter key holds a digest, not the address: the cache never stores emails.
  const failureKey = (email: string): string => `signin-failures:${createHash('sha256').update(email).digest('hex')}`
  const windowSeconds = Math.ceil(windowMinutes * 60)
  // A cache outage must not lock every user out: each step fails open, and says so in the log.
  const guarded = <T, F>(what: string, call: () => Promise<T>, fallback: F): Promise<T | F> =>
    failOpen(call, fallback, { log, cache: counters.name, what: `sign-in throttle ${what}`, instead: 'not throttling' })

  return {
    /**
     * Runs `check` for `email` unless it has failed too often (429 TOO_MANY_SIGN_IN_FAILURES,
     * with the window's remaining seconds, before `check` runs). `check` resolves to what the
     * caller needs on success, or undefined on a failure: that is counted, and a success after
     * failures clears the count.
     */
    async attempt<T> (email: string, check: () => Promise<T | undefined>): Promise<T | undefined> {
      const key = failureKey(email)
      const seen = await guarded('read', () => counters.peek(key), { count: 0, ttlMs: 0 })
      if (seen.count >= maxFailures) throw signInThrottled(seen.ttlMs / 1000)
      const result = await check()
      if (result === undefined) await guarded('update', () => counters.incr(key, windowSeconds), undefined)
      else if (seen.count > 0) await guarded('reset', () => counters.del(key), undefined)
      return result
    },

    /** Forgets the email's failures: a password reset proved the address, and the old guesses are moot. */
    async clear (email: string): Promise<void> {
      await guarded('reset', () => counters.del(failureKey(email)), undefined)
    }
  }
}

export type SignInThrottle = ReturnType<typeof createSignInThrottle>
