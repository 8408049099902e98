import { createHash } from 'node:crypto'
import type { KeyValueCache } from '../cache/types'
import { withDeadline } from '../deadline'

/** How long a success is replayed for the same key (the contract: 24 hours). */
const RECORD_TTL_SECONDS = 24 * 3600
/**
 * Each recorded success is also listed under its user, so deleting the account can delete
 * its records (a replayed POST /reviews body holds the author's email). The list is kept per
 * UTC day: a counter numbers the day's records and each number names one slot. A day's
 * counter outlives the day by more than a record's life (its window starts at the day's
 * first record), so while any record of that day lives, its counter still says how many
 * there are. Only the cache's plain operations are used, so it works the same in process and on Redis.
 */
const DAY_MS = 24 * 3600 * 1000
const INDEX_TTL_SECONDS = 2 * RECORD_TTL_SECONDS + 3600
/** The days whose records may still live: today's and yesterday's (a record lives 24 hours). */
const liveDays = (now: number): number[] => [Math.floor(now / DAY_MS), Math.floor(now / DAY_MS) - 1]

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
  const userIndex = (userId: number, day: number): string => `idempotency-user:${userId}:${day}`
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
    /** Records the success for replay, listed under `userId` first, so no record is ever unlisted. */
    async record (slotKey: string, userId: number, recorded: Recorded): Promise<void> {
      const [day = 0] = liveDays(Date.now())
      const { count } = await within(cache.incr(`${userIndex(userId, day)}:count`, INDEX_TTL_SECONDS))
      await within(cache.set(`${userIndex(userId, day)}:${count}`, slotKey, INDEX_TTL_SECONDS))
      await within(cache.set(`${slotKey}:done`, JSON.stringify(recorded), RECORD_TTL_SECONDS))
    },
    /** Deletes every record of the user that may still be replayed, and the list of them. */
    async forgetUser (userId: number): Promise<number> {
      let forgotten = 0
      for (const day of liveDays(Date.now())) {
        const index = userIndex(userId, day)
        const { count } = await within(cache.peek(`${index}:count`))
        for (let n = 1; n <= count; n++) {
          const slotKey = await within(cache.get(`${index}:${n}`))
          if (slotKey !== undefined) {
            await within(cache.del(`${slotKey}:done`))
            await within(cache.del(`${index}:${n}`))
            forgotten++
          }
        }
        await within(cache.del(`${index}:count`))
      }
      return forgotten
    }
  }
}
