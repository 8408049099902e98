/**
 * `npm run bench:express -- /path/to/lr_rest_books_node`: the service against the same design's
 * Express app (Literank/lr_rest_books_node, a checkout kept outside this project), both on the
 * very same MySQL, MongoDB and Redis, with the same catalogue, in alternating rounds, each
 * server pinned to core 0 and this load generator to core 1 (taskset, where there is one), as
 * bench/books.ts does. Prints req/s of each and the ratio ours ÷ theirs. Only ratios hold on a
 * shared machine.
 *   npm run bench:express -- CHECKOUT [--rounds 3 --seconds 5 --cpu-prof DIR --only cached|:id|one-hit]
 * --cpu-prof DIR runs our server under `node --cpu-prof` and leaves the profile in DIR.
 * Needs DATABASE_URL (MySQL), MONGODB_URL and REDIS_URL; skips without them.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { HAS_TASKSET, json, median, oneHitTokens, onServerCore, option, pinLoadGenerator, postJson, signIn, startService, textOption, throughput } from './common'
import { startFlags, stopProcess, waitForHttp } from '../scripts/lib/server'
import { freePort } from '../scripts/lib/throwaway'
import Redis from 'ioredis'
import { MongoClient } from 'mongodb'
import mysql from 'mysql2/promise'

const args = process.argv.slice(2)
const ROUNDS = option('rounds', 3)
const SECONDS = option('seconds', 5)
const CPU_PROF = textOption('cpu-prof')
/** Only the cases whose name holds this (e.g. `--only one-hit`), to profile one. */
const ONLY = textOption('only')
const CONNECTIONS = 50
const QUERIES = 1000
const PAGE_SIZE = 20
const OURS_DB = 'bookstore_test_bench_ours'
const THEIRS_DB = 'bookstore_test_bench_express'
/** The Express app's one cache key for the first page (src/application/executor/book_operator.ts). */
const THEIR_LIST_KEY = 'lr-books-0'

const { DATABASE_URL, MONGODB_URL, REDIS_URL } = process.env
if (DATABASE_URL === undefined || MONGODB_URL === undefined || REDIS_URL === undefined || !DATABASE_URL.startsWith('mysql:')) {
  console.log('bench:express skipped: it needs DATABASE_URL (mysql://...), MONGODB_URL and REDIS_URL (source /tmp/services.out or npm run services)')
  process.exit(0)
}
const checkout = args.find((a, i) => !a.startsWith('--') && (i === 0 || !(args[i - 1] ?? '').startsWith('--')))
if (checkout === undefined || !existsSync(path.join(checkout, 'package.json'))) {
  console.error('usage: npm run bench:express -- /path/to/lr_rest_books_node (a checkout of github.com/Literank/lr_rest_books_node)')
  process.exit(2)
}
const CHECKOUT = path.resolve(checkout)

// This process generates the load: off the servers' core.
pinLoadGenerator(__filename, args)

/** The same URL naming another database (its path). */
const withDatabase = (url: string, name: string): string => {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

function run (command: string, argv: string[], cwd: string): void {
  console.log(`bench:express: ${command} ${argv.join(' ')} (in ${cwd})`)
  const done = spawnSync(command, argv, { cwd, stdio: 'inherit' })
  if (done.status !== 0) throw new Error(`${command} ${argv.join(' ')} failed (${done.status ?? 'signal'})`)
}

/** Dependencies from the npm registry and the build its package.json names (tsc && tsc-alias). */
function prepareCheckout (): void {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  if (!existsSync(path.join(CHECKOUT, 'node_modules', 'express'))) run(npm, ['install', '--no-audit', '--no-fund'], CHECKOUT)
  if (!existsSync(path.join(CHECKOUT, 'dist', 'main.js'))) run(npm, ['run', 'build'], CHECKOUT)
}

/** Its config.json, for our services: the same MySQL server, MongoDB and Redis. */
function theirConfig (port: number): object {
  const redis = new URL(REDIS_URL ?? '')
  return {
    app: { port, page_size: PAGE_SIZE, token_secret: randomBytes(32).toString('base64'), token_hours: 48 },
    db: {
      file_name: 'unused.db',
      dsn: withDatabase(DATABASE_URL ?? '', THEIRS_DB),
      mongo_uri: MONGODB_URL,
      mongo_db_name: THEIRS_DB
    },
    cache: {
      host: redis.hostname,
      port: Number(redis.port === '' ? 6379 : redis.port),
      password: decodeURIComponent(redis.password),
      db: Number(redis.pathname.slice(1) === '' ? 0 : redis.pathname.slice(1)),
      timeout: 5000
    }
  }
}

/** Its table, as its MySQLPersistence creates it at start (here before, so the seed can go in first). */
const THEIR_SCHEMA = `CREATE TABLE IF NOT EXISTS books (
  id INT AUTO_INCREMENT PRIMARY KEY,
  title VARCHAR(255) NOT NULL,
  author VARCHAR(255) NOT NULL,
  published_at VARCHAR(15) NOT NULL,
  description TEXT NOT NULL,
  isbn VARCHAR(255) NOT NULL,
  total_pages INT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
)`

interface BookBody { title: string, author: string, published_at: string, description: string, isbn: string, total_pages: number }

/** The catalogue of bench/books.ts: 200 books, and 1,000 with a token of their own for one-hit searches. */
function catalogue (tokens: string[]): BookBody[] {
  const books: BookBody[] = []
  for (let i = 0; i < 200; i++) {
    books.push({ title: `Book ${i}`, author: `Author ${i % 17}`, published_at: '2001-02-03', description: 'A book of the benchmark catalogue', isbn: '978-0-00-000000-2', total_pages: 100 + i })
  }
  for (const tok of tokens) {
    books.push({ title: `Searchable ${tok}`, author: 'Bench', published_at: '2001-02-03', description: 'A book to find', isbn: '978-0-00-000000-2', total_pages: 100 })
  }
  return books
}

const load = (base: string, paths: string[], seconds = SECONDS): Promise<number> => throughput(base, paths, seconds, CONNECTIONS)

type Fields = Pick<BookBody, 'title' | 'author' | 'total_pages'> & { id: number }
const fields = (value: unknown): Fields[] => {
  const list = Array.isArray(value) ? value as Fields[] : [value as Fields]
  return list.map(({ id, title, author, total_pages: pages }) => ({ id, title, author, total_pages: pages }))
}

async function main (): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-bench-express-'))
  const namespace = `bench-express-${process.pid}`
  const configFile = path.join(CHECKOUT, 'config.json')
  const theirOriginalConfig = existsSync(configFile) ? readFileSync(configFile, 'utf8') : undefined
  const stops: Array<() => Promise<unknown>> = []
  const logs: number[] = []
  const sql = await mysql.createConnection(DATABASE_URL ?? '')
  const mongo = new MongoClient(MONGODB_URL ?? '')
  const redis = new Redis(REDIS_URL ?? '')
  try {
    prepareCheckout()
    for (const db of [OURS_DB, THEIRS_DB]) {
      await sql.query(`DROP DATABASE IF EXISTS \`${db}\``)
      await sql.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`)
    }
    await mongo.connect()
    for (const db of [OURS_DB, THEIRS_DB]) await mongo.db(db).dropDatabase()
    await redis.del(THEIR_LIST_KEY)

    const tokens = oneHitTokens(QUERIES)
    const books = catalogue(tokens)

    // Ours, seeded through its API (as bench/books.ts), every request logged to a file as in production.
    const ourConfig = path.join(dir, 'bench.yml')
    writeFileSync(ourConfig, `cacheNamespace: ${namespace}\n`)
    const profile = CPU_PROF === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(CPU_PROF)]
    const ours = await startService({
      DATABASE_URL: withDatabase(DATABASE_URL ?? '', OURS_DB),
      MONGODB_URL: withDatabase(MONGODB_URL ?? '', OURS_DB),
      CONFIG_FILE: ourConfig,
      PAGE_SIZE: String(PAGE_SIZE),
      AUTH_RATE_LIMIT: '1000000'
    }, { nodeFlags: [...profile, ...startFlags()], output: { file: path.join(dir, 'service.log') } })
    stops.push(() => ours.stop())
    const token = await signIn(ours.url)
    for (const body of books) await postJson(`${ours.url}/books`, body, token)

    // Theirs: its table and the same rows, in id order, straight into its database.
    const theirSql = await mysql.createConnection(withDatabase(DATABASE_URL ?? '', THEIRS_DB))
    try {
      await theirSql.query(THEIR_SCHEMA)
      await theirSql.query('INSERT INTO books (title, author, published_at, description, isbn, total_pages) VALUES ?',
        [books.map((b) => [b.title, b.author, b.published_at, b.description, b.isbn, b.total_pages])])
    } finally {
      await theirSql.end()
    }
    const theirPort = await freePort()
    writeFileSync(configFile, JSON.stringify(theirConfig(theirPort), null, 2))
    const theirLog = openSync(path.join(dir, 'express.log'), 'w')
    logs.push(theirLog)
    const [theirCmd, theirArgv] = onServerCore(process.execPath, [path.join(CHECKOUT, 'dist', 'main.js')])
    const theirChild = spawn(theirCmd, theirArgv, { cwd: CHECKOUT, stdio: ['ignore', theirLog, theirLog], env: { ...process.env, NODE_ENV: 'production' } })
    stops.push(() => stopProcess(theirChild))
    const theirs = { url: `http://127.0.0.1:${theirPort}` }
    await waitForHttp(`${theirs.url}/books/1`, theirChild)

    const cases: Array<{ name: string, paths: string[] }> = [
      { name: `cached GET /books (a page of ${PAGE_SIZE})`, paths: ['/books'] },
      { name: 'GET /books/:id', paths: ['/books/42'] },
      { name: `one-hit GET /books?q= (${QUERIES.toLocaleString('en')} queries)`, paths: tokens.map((tok) => `/books?q=${tok}`) }
    ]
    // Both answer 200 with the same books before anything is measured.
    for (const { paths } of cases) {
      for (const p of [paths[0] ?? '/', paths[paths.length - 1] ?? '/']) {
        const [a, b] = [fields(await json(ours.url + p)), fields(await json(theirs.url + p))]
        if (JSON.stringify(a) !== JSON.stringify(b) || a.length === 0) {
          throw new Error(`${p}: the answers differ\n ours:   ${JSON.stringify(a).slice(0, 300)}\n theirs: ${JSON.stringify(b).slice(0, 300)}`)
        }
      }
    }

    const rows: Array<Record<string, string | number>> = []
    for (const { name, paths } of cases.filter((c) => ONLY === undefined || c.name.includes(ONLY))) {
      // A short warm-up of each (JIT, connection pools, the caches), kept short to bound the run.
      await load(ours.url, paths, 2)
      await load(theirs.url, paths, 2)
      const a: number[] = []
      const b: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        a.push(await load(ours.url, paths))
        b.push(await load(theirs.url, paths))
      }
      rows.push({ case: name, 'ours req/s': Math.round(median(a)), 'Express req/s': Math.round(median(b)), 'ours ÷ theirs': `${(median(a) / median(b)).toFixed(1)}×` })
    }
    console.table(rows)
    console.log(`MySQL + MongoDB + Redis; ${HAS_TASKSET ? 'servers on core 0, load on core 1' : 'no taskset: servers and load share the cores'}; ` +
      `${ROUNDS} alternating rounds of ${SECONDS} s after a 2 s warm-up, medians, ${CONNECTIONS} connections`)
  } finally {
    await Promise.all(stops.map((stop) => stop()))
    for (const fd of logs) closeSync(fd)
    if (theirOriginalConfig !== undefined) writeFileSync(configFile, theirOriginalConfig)
    for (const db of [OURS_DB, THEIRS_DB]) await sql.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => undefined)
    await sql.end()
    for (const db of [OURS_DB, THEIRS_DB]) await mongo.db(db).dropDatabase().catch(() => undefined)
    await mongo.close()
    const keys = await redis.keys(`${namespace}:*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.del(THEIR_LIST_KEY)
    redis.disconnect()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
