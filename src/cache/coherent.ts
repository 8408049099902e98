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
}

type LossCause = 'failed' | 'reset' | 'wentBack'

/** What the guard has seen since it was made: for tests, benchmarks and whoever asks why the cache is cold. */
export interface CoherenceStats {
  /** Times the cache was found lost while this instance trusted it: one `cache lost` warning each. */
  losses: number
  /**
   * Every time a loss was found, trusted or not, by what told: a failed or timed-out call, a
   * dropped connection, or Redis answering a stamp below one it had answered before.
   */
  found: Record<LossCause, number>
  /** Per namespace: generation reads Redis answered, those that found a live entry, and reads refused because the namespace was not trusted. */
  namespaces: Record<string, { reads: number, hits: number, refused: number }>
}

interface Space {
  ttlSeconds: number
  /**
   * The highest stamp Redis has answered for this namespace since the cache was last lost (0:
   * none yet). Redis had it before this instance heard of it, so any later command sees it or
   * a higher one, unless Redis went back.
   */
  floor: number
  reads: number
  hits: number
  refused: number
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
 * 3. Redis answering a generation whose stamp (src/cache/redis.ts: Redis' own, growing order
 *    of a namespace's generations) is below one it had already answered this instance before
 *    the read was sent can only mean Redis went back in time (a restore, a promoted replica
 *    that lagged, with no dropped connection seen here): it is a loss, and the read is not
 *    used. Only stamps whose answer had arrived before the read left count, and an answer
 *    arrives after Redis stored what it says: whatever order this instance's commands, or
 *    another instance's, reach Redis in, a read that left later is served a stamp at least as
 *    high. Concurrent writes and reads can therefore never look like a loss (issue 21: an
 *    earlier check kept the generations this process had seen replaced, in the order it
 *    handled answers, which is not the order Redis served them in; under write load it took
 *    several reads a second for a restore and threw the cache away each time). An instance that
 *    never saw the newer generation cannot tell it was lost; point 1 still covers every
 *    restore or failover that drops the connection, as they all do without a proxy between.
 * 4. Each entry carries its own deadline, checked here with this clock: whatever TTL Redis
 *    restores or a replica keeps, no entry is used past the TTL it was written with.
 */
export function createCoherentCache (inner: KeyValueCache, {
  log,
  direct = inner,
  retryMinMs = 50,
  retryMaxMs = 500
}: CoherenceOptions): { cache: KeyValueCache, stats: () => CoherenceStats } {
  let epoch = 0
  let losses = 0
  const found: Record<LossCause, number> = { failed: 0, reset: 0, wentBack: 0 }
  let healthy = true
  let closed = false
  let attempt = 0
  let timer: NodeJS.Timeout | undefined
  const spaces = new Map<string, Space>()
  const trusted = new Set<string>()
  const pending = new Map<string, Promise<void>>()
  // Made once (see breaker.ts): while untrusted, every read is refused with one of these.
  const notYet = new CacheUnavailableError(`${inner.name} is not trusted: not yet invalidated since it was lost`)
  const wentBack = new CacheUnavailableError(`${inner.name} went back to an older generation`)
  const lostDuring = new CacheUnavailableError(`${inner.name} was lost during the read`)

  function lose (cause: LossCause, why: string, err?: unknown): void {
    found[cause]++
    epoch++
    trusted.clear()
    // What Redis answered before is no bound on what it holds now: the generations made from
    // here on start the floors again, even if Redis' clock (a promoted replica's) is behind.
    for (const s of spaces.values()) s.floor = 0
    if (closed) return
    if (healthy) {
      healthy = false
      losses++
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
      found = { ttlSeconds, floor: 0, reads: 0, hits: 0, refused: 0 }
      spaces.set(ns, found)
    }
    found.ttlSeconds = Math.max(found.ttlSeconds, ttlSeconds)
    return found
  }

  function raise (s: Space, stamp: number | undefined): void {
    if (stamp !== undefined && stamp > s.floor) s.floor = stamp
  }

  /** Stores a generation made of `next`; trusted when no loss came in between. Resolves to its stamp. */
  async function invalidate (ns: string, next: string, via: KeyValueCache = inner): Promise<number | undefined> {
    const s = spaces.get(ns)
    if (s === undefined) throw new Error(`unknown cache namespace ${ns}`)
    const at = epoch
    let stamp: number | undefined
    try {
      stamp = await via.startGeneration(ns, next, s.ttlSeconds)
    } catch (err) {
      lose('failed', 'an invalidation failed', err)
      throw err
    }
    if (at !== epoch) return stamp
    raise(s, stamp)
    trusted.add(ns)
    return stamp
  }

  /** One invalidation in flight per namespace, shared by every read that finds it untrusted. */
  function ensureTrusted (ns: string): Promise<void> {
    if (trusted.has(ns)) return Promise.resolve()
    let inFlight = pending.get(ns)
    if (inFlight === undefined) {
      inFlight = invalidate(ns, randomUUID()).then(() => {}).finally(() => pending.delete(ns))
      pending.set(ns, inFlight)
    }
    return inFlight
  }

  async function passing<T> (what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (err) {
      lose('failed', `${what} failed`, err)
      throw err
    }
  }

  inner.onReset?.(() => { lose('reset', 'the connection closed') })

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
        if (timer !== undefined) {
          s.refused++
          throw notYet
        }
        await ensureTrusted(ns)
        if (!trusted.has(ns)) {
          s.refused++
          throw notYet
        }
      }
      const at = epoch
      // Taken before the read leaves: every stamp in it was already in Redis (point 3).
      const floor = s.floor
      const read = await passing('a read', () => inner.readGeneration(ns, key, fresh, generationTtlSeconds))
      if (at !== epoch) {
        s.refused++
        throw lostDuring
      }
      if (read.stamp !== undefined && read.stamp < floor) {
        s.refused++
        lose('wentBack', 'it answered a generation older than one it had answered before: restored from older data')
        throw wentBack
      }
      raise(s, read.stamp)
      const value = read.value
      const live = value !== undefined && value.length >= HEADER_BYTES && value.readDoubleBE(0) > Date.now()
      s.reads++
      if (live) s.hits++
      return { generation: read.generation, value: live ? value.subarray(HEADER_BYTES) : undefined, stamp: read.stamp }
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
      return await invalidate(ns, next, direct)
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
  const stats = (): CoherenceStats => ({
    losses,
    found: { ...found },
    namespaces: Object.fromEntries([...spaces].map(([ns, { reads, hits, refused }]) => [ns, { reads, hits, refused }]))
  })
  return { cache, stats }
}
