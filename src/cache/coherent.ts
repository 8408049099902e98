import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { CacheUnavailableError } from './breaker'
import type { KeyValueCache } from './types'

interface CoherenceOptions {
  log: FastifyBaseLogger
  /**
   * The cache without its circuit breaker, for the invalidation a write makes: sent even while
   * the circuit is open (it may wait the command timeout; reads never do). Otherwise another
   * instance, whose probe already saw the cache back, serves entries older than an
   * acknowledged write until this one's background retry lands.
   */
  direct?: KeyValueCache
  /** The first retry of an invalidation after a loss; each next one waits twice as long... */
  retryMinMs?: number
  /** ...up to this. */
  retryMaxMs?: number
  /** Superseded generations remembered per namespace (a restored one is recognised). */
  retiredKept?: number
}

interface Space {
  ttlSeconds: number
  /** The last generation this instance saw current. */
  current: string | undefined
  /** Generations this instance saw superseded, each with the send sequence number at that moment. */
  retired: Map<string, number>
}

/** Each generation-scoped entry is stored behind its own deadline (8 bytes, ms since the epoch). */
const HEADER_BYTES = 8

/**
 * Generation-scoped entries (book pages and books, session checks) that a cache outage can
 * never bring back older than a write. Why it holds:
 *
 * 1. An instance trusts a namespace's entries only after it has itself started a new
 *    generation of that namespace since the cache was last lost: at start-up, and after any
 *    error or timeout of any call, any dropped connection (`onReset`: a restart, failover or
 *    a restore from AOF/RDB can only happen behind a closed connection), or a regression
 *    (point 3). Until then its reads go to the database and it writes nothing. A new
 *    generation makes every entry stored before it unreachable, whatever Redis kept,
 *    restored or lost, because a generation is a fresh random token, never reused: an entry
 *    written under an old generation can only be read again if Redis itself goes back to
 *    that generation, which is what points 1 and 3 catch.
 * 2. A write whose invalidation fails (its instance cannot reach the cache) is a loss as in
 *    point 1: that instance reads the database from then on, and retries in the background,
 *    with backoff, until a new generation of every namespace is stored (stopped on close).
 *    Other instances that can still reach the cache serve the entries made before the write
 *    only until their TTL ends: no longer than CACHE_TTL_SECONDS (session checks: their
 *    own, shorter TTL) after the write, since every entry was made before it.
 * 3. Redis answering a generation this instance saw superseded (a read sent after it knew)
 *    can only mean Redis went back in time (a restore, a promoted replica that lagged, with
 *    no dropped connection seen here): it is a loss, and the read is not used.
 * 4. Each entry carries its own deadline, checked here with this clock: whatever TTL Redis
 *    restores or a replica keeps, no entry is used past the TTL it was written with.
 */
export function createCoherentCache (inner: KeyValueCache, {
  log,
  direct = inner,
  retryMinMs = 50,
  retryMaxMs = 500,
  retiredKept = 1000
}: CoherenceOptions): KeyValueCache {
  let epoch = 0
  let seq = 0
  let healthy = true
  let closed = false
  let attempt = 0
  let timer: NodeJS.Timeout | undefined
  const spaces = new Map<string, Space>()
  const trusted = new Set<string>()
  const pending = new Map<string, Promise<void>>()
  // Made once (see breaker.ts): while untrusted, every read is refused with one of these.
  const notYet = new CacheUnavailableError(`${inner.name} is not trusted: not yet invalidated since it was lost`)
  const wentBack = new CacheUnavailableError(`${inner.name} went back to a superseded generation`)
  const lostDuring = new CacheUnavailableError(`${inner.name} was lost during the read`)

  function lose (why: string, err?: unknown): void {
    epoch++
    trusted.clear()
    if (closed) return
    if (healthy) {
      healthy = false
      if (err instanceof CacheUnavailableError) log.warn({ cache: inner.name }, `cache lost (${why}); not trusted until every cached namespace is invalidated`)
      else log.warn({ err, cache: inner.name }, `cache lost (${why}); not trusted until every cached namespace is invalidated`)
    }
    schedule()
  }

  function schedule (): void {
    if (closed || timer !== undefined) return
    const delay = Math.min(retryMaxMs, retryMinMs * 2 ** attempt)
    attempt++
    timer = setTimeout(() => {
      timer = undefined
      recover().catch(() => undefined)
    }, delay)
    timer.unref()
  }

  /** Invalidates every namespace not trusted; true when all are trusted again. */
  async function recover (): Promise<boolean> {
    if (closed) return false
    try {
      await Promise.all([...spaces.keys()].map(ensureTrusted))
    } catch {
      // lose() has scheduled the next attempt.
      return false
    }
    if ([...spaces.keys()].some((ns) => !trusted.has(ns))) {
      schedule()
      return false
    }
    attempt = 0
    if (!healthy) {
      healthy = true
      log.info({ cache: inner.name, namespaces: [...spaces.keys()] }, 'cache trusted again: every cached namespace has a new generation')
    }
    return true
  }

  function space (ns: string, ttlSeconds: number): Space {
    let found = spaces.get(ns)
    if (found === undefined) {
      found = { ttlSeconds, current: undefined, retired: new Map() }
      spaces.set(ns, found)
    }
    found.ttlSeconds = Math.max(found.ttlSeconds, ttlSeconds)
    return found
  }

  function advance (s: Space, generation: string): void {
    if (s.current === generation) return
    if (s.current !== undefined) {
      s.retired.set(s.current, seq)
      if (s.retired.size > retiredKept) {
        const oldest = s.retired.keys().next().value
        if (oldest !== undefined) s.retired.delete(oldest)
      }
    }
    s.current = generation
  }

  /** Stores `next` as the generation; trusted when no loss came in between. */
  async function invalidate (ns: string, next: string, via: KeyValueCache = inner): Promise<void> {
    const s = spaces.get(ns)
    if (s === undefined) throw new Error(`unknown cache namespace ${ns}`)
    const at = epoch
    seq++
    try {
      await via.startGeneration(ns, next, s.ttlSeconds)
    } catch (err) {
      lose('an invalidation failed', err)
      throw err
    }
    advance(s, next)
    if (at === epoch) trusted.add(ns)
  }

  /** One invalidation in flight per namespace, shared by every read that finds it untrusted. */
  function ensureTrusted (ns: string): Promise<void> {
    if (trusted.has(ns)) return Promise.resolve()
    let inFlight = pending.get(ns)
    if (inFlight === undefined) {
      inFlight = invalidate(ns, randomUUID()).finally(() => pending.delete(ns))
      pending.set(ns, inFlight)
    }
    return inFlight
  }

  async function passing<T> (what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      lose(`${what} failed`, err)
      throw err
    }
  }

  inner.onReset?.(() => { lose('the connection closed') })

  const cache: KeyValueCache = {
    name: inner.name,
    get: (key) => passing('a read', () => inner.get(key)),
    set: (key, value, ttl) => passing('a write', () => inner.set(key, value, ttl)),
    setIfAbsent: (key, value, ttl) => passing('a write', () => inner.setIfAbsent(key, value, ttl)),
    incr: (key, ttl) => passing('an increment', () => inner.incr(key, ttl)),
    peek: (key) => passing('a read', () => inner.peek(key)),
    del: (key) => passing('a delete', () => inner.del(key)),

    async readGeneration (ns, key, fresh, generationTtlSeconds) {
      const s = space(ns, generationTtlSeconds)
      if (!trusted.has(ns)) {
        // A retry is scheduled: the last invalidation failed, so reads do not try again each
        // (the background retry does, within retryMaxMs); otherwise this read invalidates first.
        if (timer !== undefined) throw notYet
        await ensureTrusted(ns)
        if (!trusted.has(ns)) throw notYet
      }
      const at = epoch
      const sent = ++seq
      const read = await passing('a read', () => inner.readGeneration(ns, key, fresh, generationTtlSeconds))
      const retiredAt = s.retired.get(read.generation)
      if (retiredAt !== undefined && sent > retiredAt) {
        lose('it answered a superseded generation: restored from older data')
        throw wentBack
      }
      if (at !== epoch) throw lostDuring
      advance(s, read.generation)
      const value = read.value
      const live = value !== undefined && value.length >= HEADER_BYTES && value.readDoubleBE(0) > Date.now()
      return { generation: read.generation, value: live ? value.subarray(HEADER_BYTES) : undefined }
    },

    async writeGeneration (ns, generation, key, value, ttlSeconds) {
      // Untrusted (lost since the read): the entry would be made from a read nobody may use.
      if (!trusted.has(ns)) return
      const header = Buffer.allocUnsafe(HEADER_BYTES)
      header.writeDoubleBE(Date.now() + ttlSeconds * 1000)
      await passing('a write', () => inner.writeGeneration(ns, generation, key, Buffer.concat([header, value]), ttlSeconds))
    },

    async startGeneration (ns, next, generationTtlSeconds) {
      space(ns, generationTtlSeconds)
      await invalidate(ns, next, direct)
    },

    /** Readiness: the cache answers, and every namespace has been invalidated since it was last lost. */
    async ping () {
      await passing('a ping', () => inner.ping())
      if (!(await recover())) throw notYet
    },

    async close () {
      closed = true
      clearTimeout(timer)
      await inner.close()
    }
  }
  return cache
}
