/** What the book cache reads in one step: the namespace's generation and, under it, one entry. */
interface GenerationRead {
  generation: string
  value: Buffer | undefined
  /**
   * Where the backend keeps one (Redis, src/cache/redis.ts): the generation's stamp, a number
   * the backend gave it that is greater than every earlier generation's of the namespace for
   * as long as the backend keeps its data. A stamp below one the backend already answered can
   * only mean it went back to older data (src/cache/coherent.ts). Absent in process.
   */
  stamp?: number
}

/**
 * What the cache backend offers: plain values with a TTL, counters with a window, and
 * generation-scoped entries (bytes) that one write makes unreachable at once. In process by
 * default, Redis when REDIS_URL is set; both pass test/cache/cache.contract.ts.
 */
export interface KeyValueCache {
  readonly name: string
  get (key: string): Promise<string | undefined>
  set (key: string, value: string, ttlSeconds: number): Promise<void>
  /** Stores the value only when `key` holds none (Redis SET NX): true when this call stored it. */
  setIfAbsent (key: string, value: string, ttlSeconds: number): Promise<boolean>
  /** Adds one; the first increment starts a window of `ttlSeconds`. Returns the new count and the window's remaining ms. */
  incr (key: string, ttlSeconds: number): Promise<{ count: number, ttlMs: number }>
  /** The counter's value and remaining window, or count 0 when absent. */
  peek (key: string): Promise<{ count: number, ttlMs: number }>
  del (key: string): Promise<void>
  /**
   * One round trip: the current generation of `namespace` (storing one made of `fresh` when
   * there is none, for `generationTtlSeconds`) and the entry `key` of that generation. A
   * generation is what this answers: `fresh` itself in process, `<stamp>.<fresh>` in Redis.
   */
  readGeneration (namespace: string, key: string, fresh: string, generationTtlSeconds: number): Promise<GenerationRead>
  /**
   * In process only: a look-up of the entry `key` of the namespace's current generation, made
   * once and then called per request. Each call answers at once (no promise) what
   * readGeneration would find then; undefined when it holds none, or cannot say without
   * readGeneration (no generation yet, another process's commit to follow first). A backend
   * across the network has none: its answers take a round trip.
   */
  peekGeneration? (namespace: string, key: string): () => Buffer | undefined
  /** Stores an entry under a generation (a superseded generation's entries are never read again). */
  writeGeneration (namespace: string, generation: string, key: string, value: Buffer, ttlSeconds: number): Promise<void>
  /**
   * Makes a generation made of `next` the namespace's: every entry of the previous one is
   * unreachable at once. Resolves to the new generation's stamp, where the backend keeps one.
   */
  startGeneration (namespace: string, next: string, generationTtlSeconds: number): Promise<number | undefined>
  ping (): Promise<void>
  /**
   * Calls `listener` whenever the backend may have lost or restored entries behind this
   * instance's back (Redis: the connection closed, so a restart, a failover or a restore
   * from persistence may follow). Absent where that cannot happen (in process).
   */
  onReset? (listener: () => void): void
  close (): Promise<void>
}

/** The keys of generation-scoped entries, the same in every backend. */
export const generationKey = (namespace: string): string => `${namespace}:generation`
export const entryKey = (namespace: string, generation: string, key: string): string => `${namespace}:${generation}:${key}`
/** The key of the lease on filling one entry: outside the namespace's keys, which are all entries and its generation. */
export const leaseKey = (namespace: string, generation: string, key: string): string => `lease:${namespace}:${generation}:${key}`
