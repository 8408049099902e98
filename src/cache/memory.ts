import { LRUCache } from 'lru-cache'
import { entryKey, generationKey, type KeyValueCache } from './types'

interface MemoryCacheOptions {
  /** Bytes the cached pages and books may take, keys included. */
  maxBytes?: number
  /** Counters and generation tokens kept at most (they are tiny). */
  maxCounters?: number
}

interface Counter { count: number }

/**
 * The embedded default: two bounded in-process LRU maps (lru-cache). Entries, the large
 * ones, are bounded in bytes; counters and generation tokens live apart, so a flood of
 * distinct pages can never evict a sign-in throttle counter. TTLs are checked when an entry
 * is read (no timer per entry or per call): everything here is synchronous.
 */
export function createMemoryCache ({ maxBytes = 16 * 2 ** 20, maxCounters = 100_000 }: MemoryCacheOptions = {}): KeyValueCache {
  const entries = new LRUCache<string, Buffer | string>({
    maxSize: maxBytes,
    sizeCalculation: (value, key) => key.length + (typeof value === 'string' ? value.length * 2 : value.length),
    ttl: 60_000,
    // 0: read the clock at each check; lru-cache otherwise caches it behind a timer.
    ttlResolution: 0
  })
  const counters = new LRUCache<string, Counter | string>({ max: maxCounters, ttl: 60_000, ttlResolution: 0 })

  const counted = (key: string): Counter | undefined => {
    const value = counters.get(key)
    return typeof value === 'object' ? value : undefined
  }
  const currentGeneration = (namespace: string, fresh: string, ttlSeconds: number): string => {
    const key = generationKey(namespace)
    const current = counters.get(key)
    if (typeof current === 'string') return current
    counters.set(key, fresh, { ttl: ttlSeconds * 1000 })
    return fresh
  }

  /** An entry of a generation: bytes, never a plain value stored under the same key. */
  const entryOf = (namespace: string, generation: string, key: string): Buffer | undefined => {
    const value = entries.get(entryKey(namespace, generation, key))
    return typeof value === 'string' ? undefined : value
  }

  return {
    name: 'memory',
    async get (key) {
      const value = entries.get(key) ?? counters.get(key)
      return typeof value === 'string' ? value : undefined
    },
    async set (key, value, ttlSeconds) {
      entries.set(key, value, { ttl: ttlSeconds * 1000 })
    },
    async setIfAbsent (key, value, ttlSeconds) {
      if (entries.has(key) || counters.has(key)) return false
      // With the entries, as set() stores: a lease is taken on every miss, and a flood of
      // misses must not evict a sign-in counter (a lease evicted costs one more load).
      entries.set(key, value, { ttl: ttlSeconds * 1000 })
      return true
    },
    async incr (key, ttlSeconds) {
      const counter = counted(key)
      if (counter === undefined) {
        counters.set(key, { count: 1 }, { ttl: ttlSeconds * 1000 })
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
      entries.delete(key)
      counters.delete(key)
    },
    async readGeneration (namespace, key, fresh, generationTtlSeconds) {
      const generation = currentGeneration(namespace, fresh, generationTtlSeconds)
      return { generation, value: entryOf(namespace, generation, key) }
    },
    peekGeneration (namespace, key) {
      const generation = counters.get(generationKey(namespace))
      return typeof generation === 'string' ? entryOf(namespace, generation, key) : undefined
    },
    async writeGeneration (namespace, generation, key, value, ttlSeconds) {
      entries.set(entryKey(namespace, generation, key), value, { ttl: ttlSeconds * 1000 })
    },
    async startGeneration (namespace, next, generationTtlSeconds) {
      counters.set(generationKey(namespace), next, { ttl: generationTtlSeconds * 1000 })
      // Nothing in process can go back to older data: no stamp to check.
      return undefined
    },
    async ping () {},
    async close () {
      entries.clear()
      counters.clear()
    }
  }
}
