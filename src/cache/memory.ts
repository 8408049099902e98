import { LRUCache } from 'lru-cache'
import { entryKey, generationKey, type KeyValueCache } from './types'

interface MemoryCacheOptions {
  /** Bytes the cached pages and books may take, keys included. */
  maxBytes?: number
  /** Counters and generation tokens kept at most (they are tiny). */
  maxCounters?: number
  /**
   * How long a look-up may answer from its memo before it reads the maps again: no change
   * decides that, but the LRU's order does, and an entry read only through a memo would
   * otherwise look unused to it however hot it is. A second: under 1,000 hot URLs at ~40,000
   * requests a second, 100 ms made every fourth read go to the maps (two LRU reads, four clock
   * reads), and an entry used within the last second is not the least recently used of many.
   */
  touchEveryMs?: number
}

interface Counter { count: number }

/**
 * The embedded default: two bounded in-process LRU maps (lru-cache). Entries, the large
 * ones, are bounded in bytes; counters and generation tokens live apart, so a flood of
 * distinct pages can never evict a sign-in throttle counter. TTLs are checked when an entry
 * is read (no timer per entry or per call): everything here is synchronous.
 *
 * A look-up (peekGeneration) remembers what it found and answers that again while nothing in
 * either map has changed and neither the entry nor its generation can have expired: the hot
 * read of a cached page then costs a comparison, not two LRU reads and two keys built and hashed.
 */
export function createMemoryCache ({ maxBytes = 16 * 2 ** 20, maxCounters = 100_000, touchEveryMs = 1000 }: MemoryCacheOptions = {}): KeyValueCache {
  const entries = new LRUCache<string, Buffer | string>({
    maxSize: maxBytes,
    sizeCalculation: (value, key) => key.length + (typeof value === 'string' ? value.length * 2 : value.length),
    ttl: 60_000,
    // 0: read the clock at each check; lru-cache otherwise caches it behind a timer.
    ttlResolution: 0
  })
  const counters = new LRUCache<string, Counter | string>({ max: maxCounters, ttl: 60_000, ttlResolution: 0 })
  /**
   * Counts every change to what the maps hold (a value set or deleted, and so every eviction,
   * which only a set makes). Expiry changes nothing here: a memo keeps its own deadline.
   */
  let changes = 0
  /** Every store into either map goes through here, so no change escapes the count. */
  const store = <V extends object | string>(map: LRUCache<string, V>, key: string, value: V, ttlMs: number): void => {
    changes++
    map.set(key, value, { ttl: ttlMs })
  }

  const counted = (key: string): Counter | undefined => {
    const value = counters.get(key)
    return typeof value === 'object' ? value : undefined
  }
  const currentGeneration = (namespace: string, fresh: string, ttlSeconds: number): string => {
    const key = generationKey(namespace)
    const current = counters.get(key)
    if (typeof current === 'string') return current
    store(counters, key, fresh, ttlSeconds * 1000)
    return fresh
  }

  /** An entry of a generation is bytes, never a plain value stored under the same key. */
  const asEntry = (value: Buffer | string | undefined): Buffer | undefined => typeof value === 'string' ? undefined : value

  return {
    name: 'memory',
    async get (key) {
      const value = entries.get(key) ?? counters.get(key)
      return typeof value === 'string' ? value : undefined
    },
    async set (key, value, ttlSeconds) {
      store(entries, key, value, ttlSeconds * 1000)
    },
    async setIfAbsent (key, value, ttlSeconds) {
      if (entries.has(key) || counters.has(key)) return false
      // With the entries, as set() stores: a lease is taken on every miss, and a flood of
      // misses must not evict a sign-in counter (a lease evicted costs one more load).
      store(entries, key, value, ttlSeconds * 1000)
      return true
    },
    async incr (key, ttlSeconds) {
      const counter = counted(key)
      if (counter === undefined) {
        store(counters, key, { count: 1 }, ttlSeconds * 1000)
        return { count: 1, ttlMs: ttlSeconds * 1000 }
      }
      // Mutated in place: the window is not extended.
      counter.count++
      return { count: counter.count, ttlMs: counters.getRemainingTTL(key) }
    },
    async peek (key) {
      const counter = counted(key)
      return counter === undefined ? { count: 0, ttlMs: 0 } : { count: counter.count, ttlMs: counters.getRemainingTTL(key) }
    },
    async del (key) {
      changes++
      entries.delete(key)
      counters.delete(key)
    },
    async readGeneration (namespace, key, fresh, generationTtlSeconds) {
      const generation = currentGeneration(namespace, fresh, generationTtlSeconds)
      return { generation, value: asEntry(entries.get(entryKey(namespace, generation, key))) }
    },
    peekGeneration (namespace, key) {
      const tokenKey = generationKey(namespace)
      // The entry's key, made again only when the generation changes.
      let generation: string | undefined
      let entry = ''
      // What the last read found, at which change, and until when it may be answered again;
      // held weakly, so a look-up never keeps an entry the LRU has let go (its byte budget holds).
      let found: WeakRef<Buffer> | undefined
      let foundAtChange = -1
      let until = 0
      return () => {
        const now = performance.now()
        const held = found
        const before = held?.deref()
        if (before !== undefined && foundAtChange === changes && now < until) return before
        found = undefined
        const current = counters.get(tokenKey)
        if (typeof current !== 'string') return undefined
        if (current !== generation) {
          generation = current
          entry = entryKey(namespace, current, key)
        }
        const value = asEntry(entries.get(entry))
        if (value === undefined) return undefined
        // Each remaining TTL is counted from a moment after `now`: `until` is never later than an expiry.
        until = now + Math.min(touchEveryMs, counters.getRemainingTTL(tokenKey), entries.getRemainingTTL(entry))
        foundAtChange = changes
        // The same bytes as before keep their WeakRef: a new one each refresh would be garbage
        // that the look-up keeps alive until the next, and so copied by young collections.
        found = held !== undefined && value === before ? held : new WeakRef(value)
        return value
      }
    },
    async writeGeneration (namespace, generation, key, value, ttlSeconds) {
      store(entries, entryKey(namespace, generation, key), value, ttlSeconds * 1000)
    },
    async startGeneration (namespace, next, generationTtlSeconds) {
      store(counters, generationKey(namespace), next, generationTtlSeconds * 1000)
      // Nothing in process can go back to older data: no stamp to check.
      return undefined
    },
    async ping () {},
    async close () {
      changes++
      entries.clear()
      counters.clear()
    }
  }
}
