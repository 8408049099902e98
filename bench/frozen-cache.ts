/**
 * `npm run bench:frozen-cache`: read throughput and latency with Redis frozen (SIGSTOP), the
 * circuit breaker open (src/cache/breaker.ts), against the same service on the database
 * alone. Both servers on SQLite files of 200 books, pinned to core 0, this load generator to
 * core 1 (taskset, where there is one). Every read asks for a page no earlier read asked for,
 * so neither case is helped by a cache: the database-only server (no REDIS_URL) misses its
 * in-process cache on every read, and with Redis frozen the service must not wait on it.
 * The two alternate, round by round, on a machine that may be shared: only the ratio holds.
 *   npm run bench:frozen-cache [-- --rounds 3 --seconds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import { HAS_TASKSET, median, option, pinLoadGenerator, postJson, signIn, startService } from './common'
import type { Server } from '../scripts/lib/server'
import { throwawayRedis } from '../scripts/lib/throwaway'

const args = process.argv.slice(2)
const SECONDS = option('seconds', 3)
const ROUNDS = option('rounds', 3)
// Few enough that a read's latency is the read, not a queue behind 50 others on one core.
const CONNECTIONS = 10

pinLoadGenerator(__filename, args)

/** The service on a SQLite file of its own, seeded with 200 books. */
async function startSeeded (dir: string, name: string, redisUrl?: string): Promise<Server> {
  const service = await startService({ LOG_LEVEL: 'warn', DATABASE_URL: `sqlite:${path.join(dir, `${name}.db`)}`, REDIS_URL: redisUrl })
  const token = await signIn(service.url)
  for (let i = 0; i < 200; i++) {
    await postJson(`${service.url}/books`, { title: `Book ${i}`, author: `Author ${i % 17}`, published_at: '2003-01-01', description: 'A book of the benchmark catalogue', isbn: '1234567890', total_pages: 100 + i }, token)
  }
  return service
}

/** Pages never asked for before in this process (10,000 offsets by 5 lengths; past 200 they are empty, still a query). */
let next = 0
const freshPage = (): string => {
  const i = next++
  return `/books?o=${i % 10_000}&limit=${1 + (Math.floor(i / 10_000) % 5)}`
}

async function load (base: string, seconds: number): Promise<{ rps: number, p99: number, p999: number, max: number }> {
  const result = await autocannon({
    url: base,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [{ setupRequest: (req) => ({ ...req, path: freshPage() }) }]
  })
  if (result.errors + result.non2xx > 0) throw new Error(`${base}: ${result.errors} errors, ${result.non2xx} non-2xx`)
  return { rps: result.requests.average, p99: result.latency.p99, p999: result.latency.p99_9, max: result.latency.max }
}

async function main (): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-frozen-'))
  const redis = await throwawayRedis()
  const servers: Server[] = []
  try {
    const dbOnly = await startSeeded(dir, 'db-only')
    servers.push(dbOnly)
    const cached = await startSeeded(dir, 'redis', redis.url)
    servers.push(cached)

    await load(dbOnly.url, 1)
    await load(cached.url, 1)
    redis.signal('SIGSTOP')
    const first = await load(cached.url, 1)
    const base: Array<Awaited<ReturnType<typeof load>>> = []
    const frozen: Array<Awaited<ReturnType<typeof load>>> = []
    for (let round = 0; round < ROUNDS; round++) {
      base.push(await load(dbOnly.url, SECONDS))
      frozen.push(await load(cached.url, SECONDS))
    }
    redis.signal('SIGCONT')

    const row = (name: string, runs: Array<Awaited<ReturnType<typeof load>>>) => ({
      case: name,
      'req/s (median)': Math.round(median(runs.map((r) => r.rps))),
      'p99 ms (median)': median(runs.map((r) => r.p99)),
      'p99.9 ms (median)': median(runs.map((r) => r.p999)),
      'max ms (worst)': Math.max(...runs.map((r) => r.max))
    })
    console.table([
      row('database only (no REDIS_URL, every read a miss)', base),
      row('Redis frozen: the first second', [first]),
      row('Redis frozen: after the first second', frozen)
    ])
    console.log(`frozen ÷ database only: ${(median(frozen.map((r) => r.rps)) / median(base.map((r) => r.rps))).toFixed(2)}; ` +
      `${ROUNDS} alternating rounds of ${SECONDS} s, ${CONNECTIONS} connections${HAS_TASKSET ? '' : ' (no taskset: servers and load share the cores)'}`)
  } finally {
    redis.signal('SIGCONT')
    await Promise.all(servers.map((server) => server.stop()))
    await redis.kill()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
