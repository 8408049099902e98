/**
 * What the cache backend offers: plain values with a TTL, and counters with a window.
 * In process by default, Redis when REDIS_URL is set; both pass test/cache/cache.contract.ts.
 */
export interface KeyValueCache {
  readonly name: string
  get (key: string): Promise<string | undefined>
  set (key: string, value: string, ttlSeconds: number): Promise<void>
  /** Adds one; the first increment starts a window of `ttlSeconds`. Returns the new count and the window's remaining ms. */
  incr (key: string, ttlSeconds: number): Promise<{ count: number, ttlMs: number }>
  /** The counter's value and remaining window, or count 0 when absent. */
  peek (key: string): Promise<{ count: number, ttlMs: number }>
  del (key: string): Promise<void>
  ping (): Promise<void>
  close (): Promise<void>
}
