import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { withDeadline } from '../deadline'
import { failOpen } from './fail-open'
import type { KeyValueCache } from './types'

/** A namespace's generation token outlives any entry by far: it is replaced, not expired. */
const GENERATION_TTL_SECONDS = 7 * 24 * 3600

export type CacheResult = 'hit' | 'miss' | 'error'

export interface CacheAsideOptions<T> {
  cache: KeyValueCache
  /** The generation-scoped namespace: one invalidation makes all of its entries unreachable. */
  namespace: string
  /** An entry's life, counted from before the load that made it. */
  ttlSeconds: number
  /** A shorter life the value itself allows (a session's own expiry); 0 or less: not cached. */
  maxTtlSeconds?: (value: T) => number
  /** Each cache call not answered by then is abandoned for the loader; unset: the client's own bound. */
  timeoutMs?: number | undefined
  encode: (value: T) => Buffer
  /** The value, or undefined when the entry is not one to use (damaged, foreign, stale by its own terms). */
  decode: (stored: Buffer) => T | undefined
  log: FastifyBaseLogger
  /** How the log names this cache: `cache`, `session check cache`. */
  label: string
  /** What happens instead of a failed call, as the log says it: `using the store`. */
  instead: string
  /** Told of every cache read's result. */
  onResult?: (result: CacheResult) => void
}

/**
 * Cache-aside reads under a generation. Every entry lives under the namespace's current
 * generation, a unique token read with the entry in one round trip; invalidate() starts a new
 * generation, so every entry of the old one is unreachable at once, on every instance. A
 * missing token (expired, evicted, cache restarted) is replaced by a fresh one, never reused,
 * so an old entry can never come back. A load that read the store before an invalidation and
 * stores its answer after it stores it under the old generation, where no one reads it.
 * A cache that fails is logged and bypassed (src/cache/fail-open.ts): it only saves work.
 * Why no outage brings back an entry older than a write: src/cache/coherent.ts.
 */
export function createCacheAside<T> ({
  cache, namespace, ttlSeconds, maxTtlSeconds, timeoutMs, encode, decode, log, label, instead, onResult = () => {}
}: CacheAsideOptions<T>) {
  const bounded = <R>(call: () => Promise<R>): Promise<R> =>
    timeoutMs === undefined ? call() : withDeadline(call(), timeoutMs, cache.name)
  const tolerant = <R>(what: string, call: () => Promise<R>): Promise<R | undefined> =>
    failOpen(() => bounded(call), undefined, { log, cache: cache.name, what: `${label} ${what}`, instead })

  return {
    /** The cached value of `key`, else the loader's (stored when defined and it may live). */
    async get (key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
      const read = await tolerant('read', () => cache.readGeneration(namespace, key, randomUUID(), GENERATION_TTL_SECONDS))
      if (read === undefined) onResult('error')
      else {
        const hit = read.value === undefined ? undefined : decode(read.value)
        if (hit !== undefined) {
          onResult('hit')
          return hit
        }
        onResult('miss')
      }
      const loading = Date.now()
      const fresh = await load()
      if (fresh === undefined || read === undefined) return fresh
      // Counted from before the load: an entry made of rows read before some write lives less
      // than its TTL past that write, even if it is stored after it and the write's
      // invalidation never reached the cache.
      const ttl = Math.min(ttlSeconds - (Date.now() - loading) / 1000, maxTtlSeconds?.(fresh) ?? Infinity)
      if (ttl > 0) await tolerant('write', () => cache.writeGeneration(namespace, read.generation, key, encode(fresh), ttl))
      return fresh
    },

    /**
     * A new generation: every entry stored so far is unreachable. False (logged) when it did not
     * land; then this instance stops trusting the cache and retries in the background
     * (src/cache/coherent.ts), while another instance may serve older entries until their TTL ends.
     */
    async invalidate (): Promise<boolean> {
      const done = await tolerant('invalidate', async () => {
        await cache.startGeneration(namespace, randomUUID(), GENERATION_TTL_SECONDS)
        return true
      })
      return done === true
    }
  }
}
