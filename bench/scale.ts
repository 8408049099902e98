/**
 * The catalogue-size benchmark: `npm run bench:scale -- 1000000`.
 *
 * Generates a catalogue of N books as JSON Lines, loads it with the importer (scripts/import.ts)
 * into a fresh SQLite file and, when DATABASE_URL is mysql://, into a scratch database on that
 * server (dropped afterwards), starts the built service (node dist/src/server.js, its own
 * process, pinned to core 0 with taskset when there is one; this process, the load generator,
 * pins itself to core 1), and prints per backend:
 *  - uncached one-hit search: distinct tokens, each in exactly one book's title;
 *  - the last page by `o` and by `after` (through the route when it takes `after`, else at
 *    the store, said so);
 *  - the storm: GET /books/:id (random ids, 10 connections) idle, then while one client
 *    searches in a loop (distinct tokens that match nothing, and random 2-character strings).
 * On MySQL/MariaDB it says which search the database got (the Mroonga index where the server
 * has the plugin, else the block pass) and times the store's search both ways.
 * SCALE_BACKENDS=mysql skips SQLite (default: sqlite,mysql).
 */
import { execFileSync } from 'node:child_process'
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import autocannon from 'autocannon'
import { HAS_TASKSET, median, onServerCore } from './common'
import mysql from 'mysql2/promise'
import { projectRoot } from '../config/paths'
import { startServer } from '../scripts/lib/server'
import { MYSQL_POOL_OPTIONS, mysqlDialect, type MysqlOptions } from '../src/stores/mysql/dialect'
import { createSqlStores } from '../src/stores/sql'
import type { SqlDialect } from '../src/stores/sql/dialect'
import { sqliteDialect } from '../src/stores/sqlite/dialect'

const N = Number(process.argv[2] ?? 1000000)
const BACKENDS = new Set((process.env.SCALE_BACKENDS ?? 'sqlite,mysql').split(','))
const SEARCHES = 200
const STORM_SECONDS = 8
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'
const ALPHANUMERIC = `${LETTERS}0123456789`

/** Five letters for i: fixed width, so no token is a substring of another. */
const letters = (i: number): string => Array.from({ length: 5 }, (_, k) => LETTERS[Math.floor(i / 26 ** k) % 26]).join('')
/** In book i's title only: "xq" occurs nowhere else, and a fixed-width token cannot straddle. */
const hitToken = (i: number): string => `xq${letters(i)}j`
/** The same shape, ending in k: in no book. */
const missToken = (i: number): string => `xq${letters(i)}k`

async function generate (file: string): Promise<void> {
  const out = createWriteStream(file)
  for (let i = 1; i <= N; i++) {
    const book = { title: `Volume ${i} of the collected works ${hitToken(i)}`, author: `Author ${i % 5000}`, total_pages: 100 + (i % 900) }
    if (!out.write(`${JSON.stringify(book)}\n`)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
}

function importInto (databaseUrl: string, file: string): string {
  const output = execFileSync(process.execPath, [path.join(projectRoot, 'dist', 'scripts', 'import.js'), file], {
    env: { ...process.env, DATABASE_URL: databaseUrl, MONGODB_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' }, encoding: 'utf8'
  })
  return output.trim()
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6
const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))] ?? NaN
const fmt = (x: number): string => x.toFixed(x < 10 ? 2 : 0)

async function timedGet (url: string): Promise<{ ms: number, status: number, body: unknown }> {
  const t0 = process.hrtime.bigint()
  const res = await fetch(url)
  const body: unknown = await res.json()
  return { ms: ms(t0), status: res.status, body }
}

async function searchLatency (url: string, offsetTokens: number): Promise<string> {
  const times: number[] = []
  let wrong = 0
  for (let k = 0; k < SEARCHES; k++) {
    const i = 1 + ((offsetTokens + k * 4999) % N)
    const r = await timedGet(`${url}/books?q=${hitToken(i)}`)
    if (r.status !== 200 || !Array.isArray(r.body) || r.body.length !== 1) wrong++
    times.push(r.ms)
  }
  return `median ${fmt(median(times))} ms, p99 ${fmt(p99(times))} ms over ${SEARCHES} distinct one-hit queries${wrong > 0 ? `, ${wrong} NOT ONE HIT` : ''}`
}

/**
 * The same searches at the store, in this process: the index's own cost, without HTTP. With
 * several stores (MySQL: the candidate scan in one pass, then in slices), each query runs on
 * each in turn, so a burst of load elsewhere falls on both.
 */
async function storeSearchLatency (stores: Record<string, () => Promise<SqlDialect>>, offsetTokens: number): Promise<string> {
  const opened = await Promise.all(Object.entries(stores).map(async ([name, open]) => ({ name, db: await open(), times: [] as number[], wrong: 0 })))
  for (let k = 0; k < SEARCHES; k++) {
    const i = 1 + ((offsetTokens + k * 4999) % N)
    for (const store of opened) {
      const t0 = process.hrtime.bigint()
      const found = await createSqlStores(store.db).books.list({ offset: 0, limit: 5, q: hitToken(i) })
      store.times.push(ms(t0))
      if (found.length !== 1) store.wrong++
    }
  }
  for (const { db } of opened) await db.close()
  return opened.map(({ name, times, wrong }) =>
    `${opened.length > 1 ? `${name}: ` : ''}median ${fmt(median(times))} ms, p99 ${fmt(p99(times))} ms${wrong > 0 ? `, ${wrong} NOT ONE HIT` : ''}`).join('; ')
}

async function lastPages (url: string, store: () => Promise<SqlDialect>): Promise<{ o: string, after: string }> {
  const byO: number[] = []
  for (let k = 0; k < 20; k++) byO.push((await timedGet(`${url}/books?o=${N - 5 - k}&limit=5`)).ms)
  const probe = await timedGet(`${url}/books?after=${N - 5}&limit=5`)
  if (probe.status === 200) {
    const byAfter: number[] = []
    for (let k = 0; k < 20; k++) byAfter.push((await timedGet(`${url}/books?after=${N - 5 - k}&limit=5`)).ms)
    return { o: `median ${fmt(median(byO))} ms (HTTP)`, after: `median ${fmt(median(byAfter))} ms (HTTP)` }
  }
  // The route does not take `after` yet (the integrator's half): the store's own cost.
  const db = await store()
  const books = createSqlStores(db).books
  const byAfter: number[] = []
  for (let k = 0; k < 20; k++) {
    const t0 = process.hrtime.bigint()
    await books.list({ offset: 0, after: N - 5 - k, limit: 5 })
    byAfter.push(ms(t0))
  }
  await db.close()
  return { o: `median ${fmt(median(byO))} ms (HTTP)`, after: `median ${fmt(median(byAfter))} ms (at the store: the route answered ${probe.status} to after=)` }
}

async function storm (url: string): Promise<{ idle: string, searching: string, searches: number }> {
  const hammer = async (): Promise<string> => {
    const result = await autocannon({
      url, connections: 10, duration: STORM_SECONDS,
      requests: [{ setupRequest: (req) => ({ ...req, path: `/books/${1 + Math.floor(Math.random() * N)}` }) }]
    })
    return `${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms${result.non2xx + result.errors > 0 ? `, ${result.non2xx + result.errors} errors/non-2xx` : ''}`
  }
  const idle = await hammer()
  let searching = true
  let searches = 0
  const searcher = (async () => {
    for (let k = 0; searching; k++) {
      const pick = (): string => ALPHANUMERIC[Math.floor(Math.random() * ALPHANUMERIC.length)] ?? 'a'
      const q = k % 2 === 0 ? missToken(k) : `${pick()}${pick()}`
      // `o` varies so that no search is ever answered from the cache.
      const res = await fetch(`${url}/books?q=${encodeURIComponent(q)}&o=${k}`)
      await res.arrayBuffer()
      searches++
    }
  })()
  const busy = await hammer()
  searching = false
  await searcher
  return { idle, searching: busy, searches }
}

async function measure (label: string, databaseUrl: string, file: string, store: () => Promise<SqlDialect>,
  alternatives: Record<string, () => Promise<SqlDialect>> = {}, searchPath?: () => Promise<string>): Promise<void> {
  console.log(`\n## ${label}`)
  console.log(`import: ${importInto(databaseUrl, file)}`)
  if (searchPath !== undefined) console.log(`search through: ${await searchPath()}`)
  // The database under test alone: no cache or review store from the caller's environment.
  const server = await startServer({
    wrap: onServerCore,
    env: { DATABASE_URL: databaseUrl, HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'development', MONGODB_URL: undefined, REDIS_URL: undefined }
  })
  const { url } = server
  try {
    console.log(`uncached one-hit search: ${await searchLatency(url, 17)}`)
    console.log(`the same kind of search at the store (no HTTP): ${await storeSearchLatency({ ...alternatives, 'as served': store }, 23)}`)
    const pages = await lastPages(url, store)
    console.log(`last page by o: ${pages.o}`)
    console.log(`last page by after: ${pages.after}`)
    const s = await storm(url)
    console.log(`GET /books/:id, 10 connections, idle: ${s.idle}`)
    console.log(`GET /books/:id, 10 connections, one client searching (${s.searches} searches): ${s.searching}`)
  } finally {
    await server.stop()
  }
}

async function main (): Promise<void> {
  if (HAS_TASKSET) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' })
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-scale-'))
  try {
    const file = path.join(dir, 'catalogue.jsonl')
    const t0 = process.hrtime.bigint()
    await generate(file)
    console.log(`# ${N} books; catalogue generated in ${(ms(t0) / 1000).toFixed(1)} s; server ${HAS_TASKSET ? 'on core 0, load on core 1' : 'unpinned (no taskset)'}`)

    const sqliteFile = path.join(dir, 'scale.db')
    if (BACKENDS.has('sqlite')) await measure('SQLite', `sqlite:${sqliteFile}`, file, async () => sqliteDialect(sqliteFile))

    const server = process.env.DATABASE_URL
    if (server?.startsWith('mysql://') === true && BACKENDS.has('mysql')) {
      const name = `bookstore_test_scale_${randomUUID().replaceAll('-', '').slice(0, 8)}`
      const admin = await mysql.createConnection(server)
      await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
      const url = new URL(server)
      url.pathname = `/${name}`
      // Every pool opened is ended: one left open keeps this process from exiting.
      const pools: mysql.Pool[] = []
      try {
        const open = async (options: MysqlOptions = {}): Promise<SqlDialect> => {
          const pool = mysql.createPool({ uri: url.toString(), ...MYSQL_POOL_OPTIONS })
          pools.push(pool)
          return mysqlDialect(pool, options)
        }
        await measure('MySQL', url.toString(), file, () => open(), { 'block pass': () => open({ search: 'blocks' }) }, async () => {
          const [rows] = await admin.query<mysql.RowDataPacket[]>(`SELECT ENGINE AS engine FROM information_schema.TABLES
            WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'book_fts'`, [name])
          return rows[0]?.engine === 'Mroonga' ? 'the Mroonga trigram index after a 16-block LOCATE head' : 'the block pass (no Mroonga on this server)'
        })
      } finally {
        await Promise.all(pools.map((pool) => pool.end()))
        await admin.query(`DROP DATABASE IF EXISTS \`${name}\``)
        await admin.end()
      }
    } else {
      console.log('\n(MySQL skipped: DATABASE_URL is not mysql://, or SCALE_BACKENDS leaves it out)')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
