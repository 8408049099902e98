import { createHash } from 'node:crypto'
import type { KeyValueCache } from '../cache/types'
import { withDeadline } from '../deadline'

/** How long a success is replayed for the same key (the contract: 24 hours). */
const RECORD_TTL_SECONDS = 24 * 3600
/** How long a key stays "in use" if its request never finishes (longer than requestTimeout, 30 s). */
const LOCK_TTL_SECONDS = 60

/** The first success, as it is replayed. */
export interface Recorded {
  fingerprint: string
  statusCode: number
  location: string | undefined
  body: string
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` are one body. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export const fingerprintOf = (body: unknown): string => createHash('sha256').update(canonical(body)).digest('base64url')

/**
 * Keys, records and the in-flight lock over the KeyValueCache contract: the lock is the
 * first `incr` of its counter (atomic on both backends), the record a plain value with a TTL.
 * The key is hashed, so what a client sends never becomes part of a cache key verbatim.
 */
export function createIdempotencyStore (cache: KeyValueCache, timeoutMs: number) {
  const slot = (scope: string, userId: number, key: string): string =>
    `idempotency:${scope}:${userId}:${createHash('sha256').update(key).digest('base64url')}`
  const within = <T>(call: Promise<T>): Promise<T> => withDeadline(call, timeoutMs, `idempotency store ${cache.name}`)

  return {
    slot,
    async recorded (slotKey: string): Promise<Recorded | undefined> {
      const text = await within(cache.get(`${slotKey}:done`))
      return text === undefined ? undefined : JSON.parse(text) as Recorded
    },
    /** True when this caller now holds the key; false when another request does. */
    async lock (slotKey: string): Promise<boolean> {
      return (await within(cache.incr(`${slotKey}:lock`, LOCK_TTL_SECONDS))).count === 1
    },
    async unlock (slotKey: string): Promise<void> {
      await within(cache.del(`${slotKey}:lock`))
    },
    async record (slotKey: string, recorded: Recorded): Promise<void> {
      await within(cache.set(`${slotKey}:done`, JSON.stringify(recorded), RECORD_TTL_SECONDS))
    }
  }
}
