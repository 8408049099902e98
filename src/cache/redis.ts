// Types only: ioredis is loaded by the redis-client plugin, and only when a Redis is configured.
import type { Result } from 'ioredis'
import type { RedisClient } from './redis-client'
import { entryKey, generationKey, type KeyValueCache } from './types'

/**
 * INCR and start the window in one step: the first increment sets the expiry, later ones
 * keep it. A counter found without an expiry (written by hand, or by a crash between two
 * non-atomic calls elsewhere) gets one, so a key can never lock an email out for ever.
 * A script rather than `PEXPIRE ... NX` so it also runs on Redis 6.2, ioredis 6's floor.
 */
const INCR_WITH_WINDOW = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`

/**
 * Every generation is stored as `<stamp>.<token>`: the token is the caller's fresh UUID, never
 * reused; the stamp is Redis' own order of the namespace's generations, so that an instance can
 * tell from an answer alone whether Redis went back to older data (src/cache/coherent.ts).
 * A new generation's stamp is greater than its predecessor's and than Redis' clock (TIME, in
 * microseconds): it grows with every invalidation while the generation key lives, and a
 * generation made after the key expired or was evicted still starts above every earlier one
 * (the clock has moved on since), so neither is mistaken for a restore. Only Redis going back
 * brings a lower stamp: a restore from an older RDB or AOF, a promoted replica that lacked the
 * newer generation. Redis assigns it inside the script that stores the generation, so how
 * this process's commands or another instance's interleave plays no part.
 *
 * Microseconds since the epoch stay below 2^53 (exact in Lua's doubles) until the year 2255;
 * '%.0f' writes them out whole (tostring would give 1.7e+15).
 */
const NEXT_STAMP = `
local function stampOf (generation)
  if not generation then return nil end
  return tonumber(string.match(generation, '^(%d+)%.'))
end
local function nextGeneration (previous, token)
  local now = redis.call('TIME')
  local stamp = tonumber(now[1]) * 1000000 + tonumber(now[2])
  local last = stampOf(previous)
  if last ~= nil and last >= stamp then stamp = last + 1 end
  return string.format('%.0f', stamp) .. '.' .. token
end
`

/**
 * The generation and the entry under it in one round trip: the generation is read (or a fresh
 * one stored) and the entry key built from it inside Redis. Which entry cannot be known before
 * the generation is read, so KEYS[2] is the namespace's entry prefix, a key of the same hash
 * slot as the generation (on a Cluster both carry the namespace's hash tag, see keysOf) and as
 * every entry built from it: the script is routed by declared keys and touches one slot only.
 */
const READ_GENERATION = `${NEXT_STAMP}
local generation = redis.call('GET', KEYS[1])
if not generation then
  generation = nextGeneration(false, ARGV[1])
  redis.call('SET', KEYS[1], generation, 'PX', ARGV[2])
end
return {generation, redis.call('GET', KEYS[2] .. generation .. ':' .. ARGV[3])}
`

/** A new generation, stamped above the one it replaces; one key, so one hash slot. */
const START_GENERATION = `${NEXT_STAMP}
local generation = nextGeneration(redis.call('GET', KEYS[1]), ARGV[1])
redis.call('SET', KEYS[1], generation, 'PX', ARGV[2])
return generation
`

/** The stamp of a generation as the scripts above store it; none for one stored otherwise (by an older release). */
function stampOf (generation: string): number | undefined {
  const match = /^(\d+)\./.exec(generation)
  return match === null ? undefined : Number(match[1])
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** READ_GENERATION, defined on the client by createRedisCache (EVALSHA, EVAL on a cold cache). */
    bookstoreReadGenerationBuffer (generationKey: string, entryPrefix: string, fresh: string, generationTtlMs: number, key: string): Result<[Buffer, Buffer | null], Context>
    /** START_GENERATION: the generation stored. */
    bookstoreStartGeneration (generationKey: string, fresh: string, generationTtlMs: number): Result<string, Context>
  }
}

interface RedisCacheOptions {
  /** Every key is written as `<namespace>:<key>`, so one Redis can serve several deployments. */
  namespace?: string
}

/** Throws the first error a MULTI reported; returns the replies otherwise. */
function replies (results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error('redis transaction was aborted')
  return results.map(([err, value]) => {
    if (err !== null) throw err
    return value
  })
}

/**
 * The shared cache: the same semantics as the in-process one (test/cache/cache.contract.ts
 * holds both to them), on a client this module does not own. Calls fail as the client's
 * options make them fail (fast while disconnected, after `commandTimeout` while Redis is
 * frozen); callers decide what a failure means. close() leaves the client to its owner
 * (plugins/external/redis.ts), which quits it once when the app closes.
 */
export function createRedisCache (client: RedisClient, { namespace = 'bookstore' }: RedisCacheOptions = {}): KeyValueCache {
  const prefix = `${namespace}:`
  const k = (key: string): string => prefix + key
  /**
   * The keys of a generation-scoped namespace: `<namespace>:<ns>:generation` and
   * `<namespace>:<ns>:<generation>:<key>`. On a Cluster the namespace part is a hash tag,
   * `{<namespace>:<ns>}`, so the generation and all its entries share one slot and
   * READ_GENERATION never meets CROSSSLOT. Only there: on one server the keys stay as earlier
   * releases wrote them, so instances of both releases share generations during a rolling update.
   * Every other command touches one key, which is always one slot.
   */
  const base = client.isCluster ? (ns: string): string => `{${namespace}:${ns}}` : (ns: string): string => k(ns)
  client.defineCommand('bookstoreReadGeneration', { numberOfKeys: 2, lua: READ_GENERATION })
  client.defineCommand('bookstoreStartGeneration', { numberOfKeys: 1, lua: START_GENERATION })
  const ms = (seconds: number): number => Math.max(1, Math.round(seconds * 1000))

  return {
    name: 'redis',
    async get (key) {
      return (await client.get(k(key))) ?? undefined
    },
    async set (key, value, ttlSeconds) {
      await client.set(k(key), value, 'PX', ms(ttlSeconds))
    },
    async setIfAbsent (key, value, ttlSeconds) {
      return (await client.set(k(key), value, 'PX', ms(ttlSeconds), 'NX')) === 'OK'
    },
    async incr (key, ttlSeconds) {
      const ttlMs = ms(ttlSeconds)
      const [count, ttl] = await client.eval(INCR_WITH_WINDOW, 1, k(key), ttlMs) as [number, number]
      return { count: Number(count), ttlMs: Number(ttl) }
    },
    async peek (key) {
      const [value, ttl] = replies(await client.multi().get(k(key)).pttl(k(key)).exec()) as [string | null, number]
      if (value === null) return { count: 0, ttlMs: 0 }
      return { count: Number(value), ttlMs: Math.max(0, Number(ttl)) }
    },
    async del (key) {
      await client.del(k(key))
    },
    async readGeneration (ns, key, fresh, generationTtlSeconds) {
      const [generation, value] = await client.bookstoreReadGenerationBuffer(generationKey(base(ns)), `${base(ns)}:`, fresh, ms(generationTtlSeconds), key)
      const text = generation.toString()
      return { generation: text, value: value ?? undefined, stamp: stampOf(text) }
    },
    async writeGeneration (ns, generation, key, value, ttlSeconds) {
      await client.set(entryKey(base(ns), generation, key), value, 'PX', ms(ttlSeconds))
    },
    async startGeneration (ns, next, generationTtlSeconds) {
      return stampOf(await client.bookstoreStartGeneration(generationKey(base(ns)), next, ms(generationTtlSeconds)))
    },
    async ping () {
      const answer = await client.ping()
      if (answer !== 'PONG') throw new Error(`redis answered PING with ${String(answer)}`)
    },
    onReset (listener) {
      // 'close' comes before any reconnect: whatever the next connection finds, this instance
      // has been told first that it may not be the state it knew.
      client.on('close', listener)
      // A Cluster's 'close' is the whole client's; one node's failure shows as these (its
      // connection failing; the node leaving the slot map when a replica took over).
      if (client.isCluster) {
        client.on('node error', listener)
        client.on('-node', listener)
      }
    },
    async close () {}
  }
}
