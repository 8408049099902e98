import type { KeyValueCache } from './types'

interface Entry { value: string, expiresAt: number }

/**
 * The embedded default: a bounded in-process map. When full, the oldest entry goes first
 * (a Map keeps insertion order), so memory stays flat however many distinct pages are read.
 */
export function createMemoryCache ({ maxEntries = 10_000, now = Date.now } = {}): KeyValueCache {
  const entries = new Map<string, Entry>()

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now()) {
      entries.delete(key)
      return undefined
    }
    return entry
  }
  const put = (key: string, value: string, ttlMs: number): void => {
    entries.delete(key)
    if (entries.size >= maxEntries) {
      const oldest = entries.keys().next()
      if (oldest.done !== true) entries.delete(oldest.value)
    }
    entries.set(key, { value, expiresAt: now() + ttlMs })
  }

  return {
    name: 'memory',
    async get (key) {
      return live(key)?.value
    },
    async set (key, value, ttlSeconds) {
      put(key, value, ttlSeconds * 1000)
    },
    async incr (key, ttlSeconds) {
      const entry = live(key)
      if (entry === undefined) {
        put(key, '1', ttlSeconds * 1000)
        return { count: 1, ttlMs: ttlSeconds * 1000 }
      }
      entry.value = String(Number(entry.value) + 1)
      return { count: Number(entry.value), ttlMs: entry.expiresAt - now() }
    },
    async peek (key) {
      const entry = live(key)
      return entry === undefined ? { count: 0, ttlMs: 0 } : { count: Number(entry.value), ttlMs: entry.expiresAt - now() }
    },
    async del (key) {
      entries.delete(key)
    },
    async ping () {},
    async close () {
      entries.clear()
    }
  }
}
