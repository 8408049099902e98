import { randomUUID } from 'node:crypto'
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { Redis, type Command } from 'ioredis'
import t from 'tap'
import { CacheUnavailableError, createCircuitBreaker } from '../../src/cache/breaker'
import { createRedisCache } from '../../src/cache/redis'
import { REDIS_CLIENT_OPTIONS } from '../../src/cache/redis-client'
import type { Book } from '../../src/schemas/book'
import { cacheContract } from '../cache/cache.contract'
import { bearer, build, SAMPLE_BOOK, scrapeMetrics, skipSuite, userWith } from '../support/app'
import { binaryAvailable, throwawayRedis } from '../support/servers'

/**
 * The circuit breaker on the cache (src/cache/breaker.ts) with a private Redis frozen by
 * SIGSTOP under read load. What must hold: after the first second no read asks Redis at all
 * (only the breaker's own PING probes reach it), so reads answer at database speed;
 * readiness says Redis is down while the circuit is open; `bookstore_cache_requests_total`
 * still counts the skipped reads as errors; and within 5 s of SIGCONT the cache serves hits
 * again, with no read missing the write made during the freeze.
 */

interface Read { at: number, ms: number, titles: string[] }

// That no read waits on Redis is shown by the commands sent (none but probes). Latency is only
// bounded loosely: under the whole suite on a loaded 2-core machine a read that never touches
// Redis has been seen to take 200 ms of CPU starvation. The figure is measured by
// `npm run bench:frozen-cache`.
const MEDIAN_READ_MS = 100
const HANG_BOUND_MS = 1000

/** Every command the app's Redis client sends, with when (a spy on the real client: nothing is faked). */
function recordCommands (app: FastifyInstance): Array<{ name: string, at: number }> {
  const sent: Array<{ name: string, at: number }> = []
  const client = app.redis
  const send = client.sendCommand.bind(client)
  client.sendCommand = (command: Command, ...rest: unknown[]) => {
    sent.push({ name: command.name, at: performance.now() })
    return (send as (command: Command, ...rest: unknown[]) => unknown)(command, ...rest)
  }
  return sent
}

async function cacheCounts (app: FastifyInstance): Promise<Record<string, number>> {
  const text = await scrapeMetrics(app)
  const counts: Record<string, number> = {}
  for (const [, result, value] of text.matchAll(/^bookstore_cache_requests_total\{result="(\w+)"\} (\d+)/gm)) {
    if (result !== undefined) counts[result] = Number(value)
  }
  return counts
}

if (!binaryAvailable('redis-server')) {
  skipSuite(t, 'cache circuit breaker suite', 'no redis-server binary on PATH (npm run services installs it)')
} else {
  t.test('with Redis frozen the circuit opens: reads stop asking it, readiness says so, and the cache is back after the thaw', async (t) => {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    const app = await build(t, { redisUrl: redis.url, cacheNamespace: `breaker-${randomUUID()}`, metricsPort: 9464 })
    t.ok(app.cacheCircuit, 'the Redis cache has a circuit')
    const author = await userWith(app, 2)
    const tag = randomUUID().slice(0, 8)
    const books: Book[] = []
    for (let i = 0; i < 3; i++) {
      books.push((await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Before ${tag} ${i}` } })).json<Book>())
    }
    const urls = [...books.map((b) => `/books/${b.id}`), `/books?q=${tag}&limit=100`]
    for (const url of urls) for (let i = 0; i < 2; i++) t.equal((await app.inject({ url })).statusCode, 200)
    t.equal(app.cacheCircuit?.state(), 'closed')
    const sent = recordCommands(app)

    const reads: Read[] = []
    let stop = false
    const reader = async (n: number): Promise<void> => {
      for (let i = n; !stop; i++) {
        const url = urls[i % urls.length] ?? '/books'
        const started = performance.now()
        const res = await app.inject({ url })
        if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode}`)
        const body = res.json<Book | Book[]>()
        reads.push({ at: started, ms: performance.now() - started, titles: (Array.isArray(body) ? body : [body]).map((b) => b.title) })
        // inject() over in-process SQLite with the circuit open never leaves the microtask
        // queue: without this the loop would starve every timer (a real socket yields anyway).
        await yieldToLoop()
      }
    }

    const before = await cacheCounts(app)
    redis.signal('SIGSTOP')
    t.teardown(() => redis.signal('SIGCONT'))
    const frozen = performance.now()
    const load = Promise.all([0, 1, 2, 3].map(reader))

    await sleep(1500)
    const write = await app.inject({ method: 'PUT', url: `/books/${books[0]?.id ?? 0}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Frozen ${tag}` } })
    t.equal(write.statusCode, 200, 'a write succeeds with Redis frozen')
    const written = performance.now()
    const health = await app.inject({ url: '/health/ready' })
    t.equal(health.statusCode, 503, 'not ready while the circuit is open')
    t.match(health.json(), { code: 'NOT_READY', message: 'Not ready: redis is down', services: { redis: 'down' } })
    t.not(app.cacheCircuit?.state(), 'closed', `the circuit is ${String(app.cacheCircuit?.state())}`)
    await sleep(1500)
    const during = await cacheCounts(app)

    const late = reads.filter((r) => r.at > frozen + 1000 && r.at < written + 1500)
    const calls = sent.filter((c) => c.at > frozen + 1000)
    t.ok(late.length > 50, `${late.length} reads after the first second of the freeze`)
    // The write's invalidation is sent through the open circuit (src/cache/coherent.ts): the
    // one command besides the probes (an EVALSHA: src/cache/redis.ts stamps the generation in
    // a script). No read sent anything.
    t.same(calls.filter((c) => c.name !== 'ping').map((c) => c.name), ['evalsha'], `after the first second only the breaker's PING probes and the write's invalidation reached Redis (${calls.length} commands)`)
    t.ok(calls.filter((c) => c.name === 'ping').length <= 4, 'one probe a second at most')
    const slowest = Math.max(...late.map((r) => r.ms))
    const median = [...late.map((r) => r.ms)].sort((x, y) => x - y)[Math.floor(late.length / 2)] ?? Infinity
    t.ok(median < MEDIAN_READ_MS, `the median read after the first second took ${median.toFixed(1)} ms`)
    t.ok(slowest < HANG_BOUND_MS, `the slowest read after the first second took ${slowest.toFixed(1)} ms`)
    const firstSecond = reads.filter((r) => r.at <= frozen + 1000)
    t.comment(`first second: ${firstSecond.length} reads, slowest ${Math.max(...firstSecond.map((r) => r.ms)).toFixed(0)} ms; after: ${(late.length / ((written + 1500 - frozen - 1000) / 1000)).toFixed(0)} reads/s, slowest ${slowest.toFixed(1)} ms`)
    t.ok((during.error ?? 0) - (before.error ?? 0) >= late.length, `bookstore_cache_requests_total{result="error"} counted the skipped reads (${(during.error ?? 0) - (before.error ?? 0)})`)
    t.equal(reads.filter((r) => r.at > written && r.titles.includes(`Before ${tag} 0`)).length, 0, 'no read after the write missed it')

    redis.signal('SIGCONT')
    const thawed = performance.now()
    let back: number | undefined
    while (back === undefined && performance.now() - thawed < 5000) {
      await sleep(50)
      const now = await cacheCounts(app)
      if ((now.hit ?? 0) > (during.hit ?? 0)) back = performance.now() - thawed
    }
    stop = true
    await load
    t.ok(back !== undefined, `cache hits again ${back?.toFixed(0) ?? 'never'} ms after SIGCONT`)
    t.equal(app.cacheCircuit?.state(), 'closed')
    t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200, 'ready again')
    const afterThaw = reads.filter((r) => r.at > thawed)
    t.ok(afterThaw.length > 0)
    t.equal(reads.filter((r) => r.at > written && r.titles.includes(`Before ${tag} 0`)).length, 0, `0 stale of ${afterThaw.length} reads after the thaw`)
    for (const url of urls.slice(0, 1)) t.match((await app.inject({ url })).json(), { title: `Frozen ${tag}` })
  })

  t.test('the breaker on its own: a closed circuit keeps the cache contract; a dead Redis opens it, and its probe closes it once Redis is back', async (t) => {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    const client = new Redis(redis.url, REDIS_CLIENT_OPTIONS)
    client.on('error', () => {})
    await client.connect()
    t.teardown(() => client.disconnect())
    const breaker = createCircuitBreaker(createRedisCache(client, { namespace: `breaker-${randomUUID()}` }), { log: pino({ level: 'silent' }), coolDownMs: 300 })
    t.teardown(() => breaker.cache.close())

    t.test('contract', async (t) => cacheContract(t, async () => breaker.cache))
    await t.test('opens, refuses, probes, closes', async (t) => {
      t.equal(breaker.state(), 'closed')
      await redis.kill()
      for (let i = 0; i < 3; i++) await t.rejects(breaker.cache.get('k'), 'a failed call')
      t.equal(breaker.state(), 'open', 'three failures in a row open it')
      const { passed } = breaker.stats()
      const started = performance.now()
      let refused = 0
      for (let i = 0; i < 100; i++) await breaker.cache.get('k').catch((err: unknown) => { if (err instanceof CacheUnavailableError) refused++ })
      const ms = performance.now() - started
      t.equal(refused, 100, 'every call refused with CacheUnavailableError')
      t.ok(ms < 100, `100 calls refused in ${ms.toFixed(1)} ms`)
      await t.rejects(breaker.cache.ping(), CacheUnavailableError, 'readiness is told at once')
      t.equal(breaker.stats().passed, passed, 'no refused call reached the client')
      t.ok(breaker.stats().shortCircuited >= 101)

      await redis.start()
      const restarted = performance.now()
      while (breaker.state() !== 'closed' && performance.now() - restarted < 5000) await sleep(20)
      t.equal(breaker.state(), 'closed', `closed by a probe ${Math.round(performance.now() - restarted)} ms after the restart`)
      t.equal(await breaker.cache.get('k'), undefined, 'calls pass again')
    })
  })
}
