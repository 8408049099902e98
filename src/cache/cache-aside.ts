import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import { withDeadline } from '../deadline'
import { failOpen } from './fail-open'
import { leaseKey, type KeyValueCache } from './types'

/** A namespace's generation token outlives any entry by far: it is replaced, not expired. */
const GENERATION_TTL_SECONDS = 7 * 24 * 3600

/** The default lease: the default bound of a store read (BACKEND_TIMEOUT_MS). */
const DEFAULT_LEASE_MS = 1000

/** A reader that found the lease taken looks for the entry after this, then twice as long each time... */
const FIRST_LOOK_MS = 4
/** ...up to this. */
const LAST_LOOK_MS = 100

export type CacheResult = 'hit' | 'miss' | 'error'

/**
 * Reads what a key holds. `fills`: its answer may be stored for every reader, so it must show
 * every write committed when the load began (a read replica serves it only then,
 * src/stores/mysql/replicas.ts); false when the cache failed and the answer goes to this reader alone.
 */
export type Loader<T> = (fills: boolean) => Promise<T | undefined>

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
  /**
   * How long one instance's load of a missing entry holds the other instances off: they look
   * for its entry meanwhile, and load themselves when none came. About as long as a store read
   * may take, so no reader waits longer than its own load could have. Default: 1 s.
   */
  leaseMs?: number | undefined
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
 *
 * Misses are single-flight, so a crowd on a cold key (or on every hot key at once, after an
 * invalidation) costs one store read, not one per request. In an instance, the readers that
 * miss one key under one generation share one load: its answer, or its error (never kept),
 * goes to them alone, and a load begun under an older generation is never handed to a reader
 * that read a newer one. Across instances, the one that loads first takes a short lease in
 * the cache; another that misses and finds it taken looks for the entry a few times, and
 * loads itself when none came within the lease. A lease that cannot be taken or read is a
 * failing cache: the reader loads at once. A hit costs what it did: one cache read.
 */
export function createCacheAside<T> ({
  cache, namespace, ttlSeconds, maxTtlSeconds, timeoutMs, encode, decode, log, label, instead, onResult = () => {},
  leaseMs = DEFAULT_LEASE_MS
}: CacheAsideOptions<T>) {
  const bounded = <R>(call: () => Promise<R>): Promise<R> =>
    timeoutMs === undefined ? call() : withDeadline(call(), timeoutMs, cache.name)
  const tolerant = <R>(what: string, call: () => Promise<R>): Promise<R | undefined> =>
    failOpen(() => bounded(call), undefined, { log, cache: cache.name, what: `${label} ${what}`, instead })
  const read = (key: string) =>
    tolerant('read', () => cache.readGeneration(namespace, key, randomUUID(), GENERATION_TTL_SECONDS))
  /** True: this instance fills; false: another does; undefined: the cache failed. */
  const claim = (lease: string): Promise<boolean | undefined> =>
    tolerant('lease', () => cache.setIfAbsent(lease, '1', leaseMs / 1000))

  /**
   * What peek decoded, by the stored bytes it came from: an entry read again and again is
   * decoded once. In process a stored value is never changed, only replaced, and its decoded
   * form lives no longer than it does (a look-up that kept it would keep it past the cache's
   * byte budget: one per recorded URL).
   */
  const peeked = new WeakMap<Buffer, T>()

  /** Loads in flight, by generation and key: one per key and generation in this instance. */
  const flights = new Map<string, Promise<T | undefined>>()

  /**
   * Loads for readers the cache failed, by key. With no generation to tell an old load from a
   * new one, a reader never joins a load already under way (it may have read the store before
   * a write this reader must see): it joins the next one, which begins when the current one
   * ends and answers every reader that arrived meanwhile. So a crowd on a cold key while the
   * cache is down costs two store reads per instance, not one per request (200 at once made
   * 200 reads, 90 of them answered 503 as the store's queue filled).
   */
  const running = new Map<string, Promise<unknown>>()
  const next = new Map<string, Promise<T | undefined>>()
  function loadAlone (key: string, load: Loader<T>): Promise<T | undefined> {
    const queued = next.get(key)
    if (queued !== undefined) return queued
    const begin = (): Promise<T | undefined> => {
      next.delete(key)
      const loading = load(false)
      const settled = loading.then(() => undefined, () => undefined)
      running.set(key, settled)
      void settled.then(() => { if (running.get(key) === settled) running.delete(key) })
      return loading
    }
    const current = running.get(key)
    if (current === undefined) return begin()
    const after = current.then(begin)
    next.set(key, after)
    return after
  }

  /**
   * The filler's entry, looked for until the lease is free (then this instance holds it) or
   * its time is up; `found: false`: load here.
   */
  async function awaitFiller (generation: string, key: string, lease: string): Promise<{ found: true, value: T } | { found: false, leased: boolean }> {
    const deadline = Date.now() + leaseMs
    for (let pause = FIRST_LOOK_MS; ; pause = Math.min(2 * pause, LAST_LOOK_MS)) {
      const left = deadline - Date.now()
      if (left <= 0) return { found: false, leased: false }
      await sleep(Math.min(pause, left))
      const again = await read(key)
      // A failing cache, or a new generation the filler's entry will not be under: load now.
      if (again === undefined || again.generation !== generation) return { found: false, leased: false }
      const value = again.value === undefined ? undefined : decode(again.value)
      if (value !== undefined) return { found: true, value }
      const leased = await claim(lease)
      if (leased !== false) return { found: false, leased: leased === true }
    }
  }

  /** The load of a missing entry under `generation`, stored when it may live. */
  async function fill (generation: string, key: string, load: Loader<T>): Promise<T | undefined> {
    const lease = leaseKey(namespace, generation, key)
    let leased = await claim(lease)
    let stored = false
    try {
      if (leased === false) {
        const waited = await awaitFiller(generation, key, lease)
        if (waited.found) return waited.value
        leased = waited.leased
      }
      const loading = Date.now()
      const fresh = await load(true)
      if (fresh === undefined) return fresh
      // Counted from before the load: an entry made of rows read before some write lives less
      // than its TTL past that write, even if it is stored after it and the write's
      // invalidation never reached the cache.
      const ttl = Math.min(ttlSeconds - (Date.now() - loading) / 1000, maxTtlSeconds?.(fresh) ?? Infinity)
      if (ttl > 0) {
        stored = await tolerant('write', async () => {
          await cache.writeGeneration(namespace, generation, key, encode(fresh), ttl)
          return true
        }) === true
      }
      return fresh
    } finally {
      // Kept after a fill, to run out by itself: a reader that missed just before the entry
      // landed finds the lease and then the entry, rather than loading again. Freed when
      // nothing was stored (not found, may not live, failed), so the others load at once.
      if (leased === true && !stored) void tolerant('lease release', () => cache.del(lease))
    }
  }

  return {
    /** The cached value of `key`, else the loader's (stored when defined and it may live). */
    async get (key: string, load: Loader<T>): Promise<T | undefined> {
      const found = await read(key)
      if (found === undefined) {
        onResult('error')
        return await loadAlone(key, load)
      }
      const hit = found.value === undefined ? undefined : decode(found.value)
      if (hit !== undefined) {
        onResult('hit')
        return hit
      }
      onResult('miss')
      // A generation (a UUID, in Redis behind its stamp and a dot) has no colon in it.
      const id = `${found.generation}:${key}`
      let flight = flights.get(id)
      if (flight === undefined) {
        const started = fill(found.generation, key, load)
        flight = started.finally(() => { flights.delete(id) })
        flights.set(id, flight)
      }
      return await flight
    },

    /**
     * A look-up of the cached value of `key`, made once and called per request, where the cache
     * can answer at once (in process; else undefined). Each call answers the very value get()
     * would answer then, counted as the same hit, or undefined, and then get() is the read (its
     * miss is counted there). A hot read's path: no promise.
     */
    peek (key: string): (() => T | undefined) | undefined {
      const look = cache.peekGeneration?.(namespace, key)
      if (look === undefined) return undefined
      return () => {
        const stored = look()
        if (stored === undefined) return undefined
        let hit = peeked.get(stored)
        if (hit === undefined) {
          hit = decode(stored)
          if (hit === undefined) return undefined
          peeked.set(stored, hit)
        }
        onResult('hit')
        return hit
      }
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
