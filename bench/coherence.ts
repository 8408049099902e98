/**
 * Issue 21's measurement: does the coherence guard (src/cache/coherent.ts) report a lost cache
 * while nothing happened to Redis, only concurrent writes and reads? Starts the service (one
 * instance, then two on one database and one Redis), and for `--seconds` runs `--writers`
 * loops of GET then PUT /books/:id (each on books of its own) and `--readers` loops of GET /books/:id and GET /books against it
 * (two instances: writes on A, reads on B). Counts:
 * - `cache lost` warnings in each instance's log (the guard's false alarms: Redis is a private
 *   redis-server nobody restarts);
 * - stale reads: a read sent after a write of that book was acknowledged that shows an older
 *   version of it;
 * - the book cache's hits and misses (GET /metrics, bookstore_cache_requests_total).
 *
 *   npm run -s pretest && node dist-test/bench/coherence.js [--seconds 15] [--writers 10] [--readers 50] [--instances 1,2]
 *
 * On MariaDB when DATABASE_URL=mysql://... is set (a scratch database of its own, dropped
 * after), else on one SQLite file. Redis: a throwaway redis-server (a private port), so no
 * other deployment's keys or commands are counted.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import mysql from 'mysql2/promise'
import { freePort, throwawayRedis } from '../scripts/lib/throwaway'
import type { Server } from '../scripts/lib/server'
import { option, pinLoadGenerator, postJson, signIn, startService, textOption } from './common'

pinLoadGenerator(__filename, process.argv.slice(2))

const SECONDS = option('seconds', 15)
const WRITERS = option('writers', 10)
const READERS = option('readers', 50)
const INSTANCES = (textOption('instances') ?? '1,2').split(',').map(Number)
const BOOKS = option('books', 20)
if (BOOKS < WRITERS) throw new Error('--books must be at least --writers: each writer has books of its own')

interface Run { instances: number, writes: number, reads: number, stale: number, failed: number, lost: number[], why: Record<string, number>, hits: number, misses: number, errors: number }

const book = (id: number, version: number) => ({
  title: `Book ${id} v${version}`,
  author: 'Bench Author',
  published_at: '2003-01-01',
  description: 'A book the coherence bench rewrites',
  isbn: '1234567890',
  total_pages: 100
})

async function cacheCounts (metricsUrl: string): Promise<{ hit: number, miss: number, error: number }> {
  const text = await (await fetch(metricsUrl)).text()
  const count = (result: string): number => Number(new RegExp(`^bookstore_cache_requests_total\\{result="${result}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  return { hit: count('hit'), miss: count('miss'), error: count('error') }
}

async function run (instances: number, databaseUrl: string): Promise<Run> {
  const redis = await throwawayRedis()
  const servers: Array<{ server: Server, metrics: string }> = []
  try {
    for (let i = 0; i < instances; i++) {
      const metricsPort = await freePort()
      const server = await startService({ LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl, REDIS_URL: redis.url, METRICS_PORT: String(metricsPort), SHED_EVENT_LOOP_DELAY_MS: '0' }, { output: 'capture' })
      servers.push({ server, metrics: `http://127.0.0.1:${metricsPort}/metrics` })
    }
    const writer = servers[0]?.server.url ?? ''
    const reader = servers[servers.length - 1]?.server.url ?? ''
    const token = await signIn(writer)
    const ids: number[] = []
    for (let i = 0; i < BOOKS; i++) ids.push((await postJson<{ id: number }>(`${writer}/books`, book(i, 0), token)).id)
    /** Per book, the last version whose write was acknowledged. */
    const acked = new Map(ids.map((id) => [id, 0]))
    const next = new Map(ids.map((id) => [id, 0]))
    const before = await cacheCounts(servers[servers.length - 1]?.metrics ?? '')
    const deadline = Date.now() + SECONDS * 1000
    const result: Run = { instances, writes: 0, reads: 0, stale: 0, failed: 0, lost: [], why: {}, hits: 0, misses: 0, errors: 0 }
    const pick = (): number => ids[Math.floor(Math.random() * ids.length)] ?? 0
    const versionOf = (title: string): number => Number(/ v(\d+)$/.exec(title)?.[1] ?? -1)

    // Writer w alone writes the books whose index is w modulo WRITERS, so a book's versions
    // commit in the order they are numbered. Each write is a read-modify-write, as a client
    // editing a book does: the GET goes to the writers' instance, through its cache.
    const writeLoop = async (w: number): Promise<void> => {
      const mine = ids.filter((_, i) => i % WRITERS === w)
      if (mine.length === 0) return
      for (let i = 0; Date.now() < deadline; i++) {
        const id = mine[i % mine.length] ?? 0
        const version = (next.get(id) ?? 0) + 1
        next.set(id, version)
        const current = await fetch(`${writer}/books/${id}`)
        await current.arrayBuffer()
        if (current.status !== 200) { result.failed++; continue }
        const res = await fetch(`${writer}/books/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(book(id, version)) })
        await res.arrayBuffer()
        if (res.status !== 200) { result.failed++; continue }
        result.writes++
        if (version > (acked.get(id) ?? 0)) acked.set(id, version)
      }
    }
    const readLoop = async (n: number): Promise<void> => {
      for (let i = 0; Date.now() < deadline; i++) {
        // Every fourth read a page (all books in one entry), else one book.
        const page = (i + n) % 4 === 0
        const id = pick()
        const floor = page ? new Map(acked) : new Map([[id, acked.get(id) ?? 0]])
        const res = await fetch(page ? `${reader}/books?limit=100&q=Book` : `${reader}/books/${id}`)
        if (res.status !== 200) { await res.arrayBuffer(); result.failed++; continue }
        result.reads++
        const body = await res.json() as { id: number, title: string } | { id: number, title: string }[]
        for (const b of Array.isArray(body) ? body : [body]) {
          const min = floor.get(b.id)
          if (min !== undefined && versionOf(b.title) < min) result.stale++
        }
      }
    }
    await Promise.all([
      ...Array.from({ length: WRITERS }, async (_, w) => writeLoop(w)),
      ...Array.from({ length: READERS }, async (_, n) => readLoop(n))
    ])
    const after = await cacheCounts(servers[servers.length - 1]?.metrics ?? '')
    result.hits = after.hit - before.hit
    result.misses = after.miss - before.miss
    result.errors = after.error - before.error
    const lost = servers.map(({ server }) => server.output().split('\n').filter((line) => line.includes('cache lost')))
    result.lost = lost.map((lines) => lines.length)
    // Why, by message: a regression ("answered a generation older...") is the false alarm; a
    // timeout ("a read failed") is a loss by design, on a machine too busy to answer in time.
    result.why = {}
    for (const line of lost.flat()) {
      const msg = String((JSON.parse(line) as { msg?: string }).msg)
      result.why[msg] = (result.why[msg] ?? 0) + 1
    }
    return result
  } finally {
    for (const { server } of servers) await server.stop()
    await redis.kill()
  }
}

/** A database of the run's own on the MySQL server `server` names (benchmarks may not use test/support). */
async function scratchMysql (server: string): Promise<{ url: string, drop: () => Promise<void> }> {
  const name = `bookstore_test_coherence_${randomUUID().replaceAll('-', '').slice(0, 8)}`
  const run = async (sql: string): Promise<void> => {
    const conn = await mysql.createConnection(server)
    try {
      await conn.query(sql)
    } finally {
      await conn.end()
    }
  }
  await run(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  const url = new URL(server)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS \`${name}\``) }
}

async function main (): Promise<void> {
  const mysql = process.env.DATABASE_URL?.startsWith('mysql://') === true ? process.env.DATABASE_URL : undefined
  console.log(`coherence bench: ${WRITERS} writers, ${READERS} readers, ${SECONDS} s, ${BOOKS} books, on ${mysql === undefined ? 'SQLite' : 'MariaDB'} + a private Redis`)
  for (const instances of INSTANCES) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bench-coherence-'))
    const scratch = mysql === undefined ? undefined : await scratchMysql(mysql)
    try {
      const r = await run(instances, scratch?.url ?? `sqlite:${path.join(dir, 'bench.db')}`)
      // Of every book read the cache was asked for: a read refused while the guard distrusts the
      // cache (or failed) goes to the database as surely as a miss.
      const asked = r.hits + r.misses + r.errors
      const rate = asked === 0 ? 0 : r.hits / asked
      console.log(`${instances === 1 ? 'one instance ' : `${instances} instances`}: ${r.writes} writes, ${r.reads} reads, ${r.stale} stale, ${r.failed} non-200; ` +
        `"cache lost" logged ${r.lost.join(' + ')} times; book cache ${r.hits} hits, ${r.misses} misses, ${r.errors} refused or failed (hit rate ${(100 * rate).toFixed(1)} %)`)
      for (const [msg, count] of Object.entries(r.why)) console.log(`  ${count} × ${msg}`)
    } finally {
      await scratch?.drop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err)
  process.exit(1)
})

