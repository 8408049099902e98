/**
 * `npm run bench:shedding`: reads while sign-ins flood the service. The built service on core 0,
 * this load generator on core 1 (taskset, where there is one). First one argon2id verify's
 * rate on the service's core (verifies back to back in a process of their own; timed again
 * after the flood, and the two averaged), then reads
 * alone (GET /books/:id at a fixed rate), then the same reads while --connections sign-in
 * connections (default 50, each sending its next request as soon as an answer, 503 included,
 * arrives; AUTH_RATE_LIMIT raised so the per-address limit never answers first) run for
 * --seconds: the sign-ins' goodput (200s a second) against the verify rate, the reads' p99
 * against idle, and every sign-in answer counted by status, timeouts and errors.
 * `--no-shedding` runs the service with the password queue and event-loop shedding off, for
 * the comparison. Only ratios hold on a shared machine.
 *   npm run bench:shedding [-- --seconds 20 --connections 200 --no-shedding --argon2-concurrency 2]
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import { ADMIN, onServerCore, option, pinLoadGenerator, postJson, signIn, startService, textOption } from './common'
import { projectRoot } from '../config/paths'
import type { Server } from '../scripts/lib/server'

const args = process.argv.slice(2)
const SECONDS = option('seconds', 20)
const CONNECTIONS = option('connections', 50)
const READ_RATE = option('read-rate', 200)
const SHEDDING = !args.includes('--no-shedding')
/**
 * argon2 slots (config argon2.concurrency) when given; otherwise the service's own default, one
 * per core it may run on (here 1: it is pinned to core 0). More slots than cores only take
 * turns at the core, with each other and with the event loop.
 */
const slotsGiven = textOption('argon2-concurrency')
const ARGON2_SLOTS = slotsGiven === undefined ? undefined : Number(slotsGiven)

pinLoadGenerator(__filename, args)

async function startShedding (dir: string): Promise<Server> {
  const configFile = path.join(dir, 'config.yml')
  if (ARGON2_SLOTS !== undefined) writeFileSync(configFile, `argon2:\n  concurrency: ${ARGON2_SLOTS}\n`)
  return startService({
    LOG_LEVEL: 'warn',
    ...(ARGON2_SLOTS === undefined ? {} : { CONFIG_FILE: configFile }),
    DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
    AUTH_RATE_LIMIT: '100000000',
    ...(SHEDDING ? {} : { SHED_PASSWORD_QUEUE: '100000', SHED_PASSWORD_WAIT_MS: '60000', SHED_EVENT_LOOP_DELAY_MS: '0' })
  })
}

interface Reads { p50: number, p99: number, max: number, requests: number, non2xx: number, errors: number, timeouts: number }

/**
 * The reads come from a process of their own (autocannon's CLI, on this core too): in this
 * process they would wait behind the flood's own bookkeeping, and the figure would be the
 * load generator's delay, not the service's.
 */
interface CannonJson {
  latency: { p50: number, p99: number, max: number }
  requests: { total: number }
  non2xx: number
  errors: number
  timeouts: number
  statusCodeStats?: Record<string, { count?: number }>
}

/** autocannon's CLI in a process of its own, its JSON summary parsed. */
function cannon (argv: string[], niceness = 0): Promise<CannonJson> {
  const cli = path.join(projectRoot, 'node_modules', 'autocannon', 'autocannon.js')
  const [cmd, rest] = niceness > 0 ? ['nice', ['-n', String(niceness), process.execPath, cli]] : [process.execPath, [cli]]
  const child = spawn(cmd, [...rest, '-j', ...argv], { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  return new Promise((resolve, reject) => {
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out) as CannonJson)
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
  })
}

/**
 * Reads at a fixed rate, from a process of their own: in this process, or at the flood's
 * priority, they would wait behind the flood's own client work, and the figure would be the
 * load generator's delay, not the service's.
 */
async function reads (url: string, seconds: number): Promise<Reads> {
  const r = await cannon(['-c', '10', '-R', String(READ_RATE), '-d', String(seconds), '-t', '10', `${url}/books/1`])
  return { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, requests: r.requests.total, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts }
}

/** The sign-in flood, niced: on the shared load core it must not starve the reads' client. */
function flood (url: string, seconds: number): Promise<CannonJson> {
  return cannon(['-c', String(CONNECTIONS), '-d', String(seconds), '-t', '10', '-m', 'POST',
    '-H', 'content-type=application/json', '-b', JSON.stringify(ADMIN), `${url}/users/sign-in`], 19)
}

/** Verifies a second, one after another, of the Admin's stored hash, in a process on the service's core. */
async function verifyRate (dbFile: string, seconds: number): Promise<number> {
  const db = new Database(dbFile, { readonly: true })
  const { password_hash: hash } = db.prepare('SELECT password_hash FROM users WHERE email = ?').get(ADMIN.email) as { password_hash: string }
  db.close()
  const [cmd, argv] = onServerCore(process.execPath, [path.join(__dirname, 'verify.js')])
  const verifier = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  try {
    await once(verifier, 'message')
    let done = 0
    const until = performance.now() + seconds * 1000
    const started = performance.now()
    while (performance.now() < until) {
      verifier.send({ hash, password: ADMIN.password })
      const [answer] = await once(verifier, 'message') as [{ ok?: boolean }]
      if (answer.ok !== true) throw new Error('the baseline verify did not accept the password')
      done++
    }
    return done / ((performance.now() - started) / 1000)
  } finally {
    verifier.kill()
  }
}

async function main (): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-shed-'))
  const service = await startShedding(dir)
  try {
    await postJson(`${service.url}/books`, { title: 'Bench', author: 'Bench', total_pages: 1 }, await signIn(service.url))

    // Timed before and after the flood, and averaged: on a shared machine the core's speed
    // drifts over a run, and one side alone would carry that drift into the ratio.
    const verifiesBefore = await verifyRate(path.join(dir, 'bench.db'), 5)
    await reads(service.url, 3) // warm-up
    const idle = await reads(service.url, 10)
    const [loaded, signIns] = await Promise.all([reads(service.url, SECONDS), flood(service.url, SECONDS)])
    const verifiesAfter = await verifyRate(path.join(dir, 'bench.db'), 5)
    const verifiesPerSecond = (verifiesBefore + verifiesAfter) / 2
    const goodput = (signIns.statusCodeStats?.['200']?.count ?? 0) / SECONDS
    const report = {
      shedding: SHEDDING,
      argon2Slots: ARGON2_SLOTS === undefined ? 'the service\'s default (one per core it may run on)' : ARGON2_SLOTS,
      connections: CONNECTIONS,
      verifiesPerSecond: Number(verifiesPerSecond.toFixed(1)),
      verifiesBeforeAndAfter: [Number(verifiesBefore.toFixed(1)), Number(verifiesAfter.toFixed(1))],
      signInsPerSecond: Number(goodput.toFixed(1)),
      goodputRatio: Number((goodput / verifiesPerSecond).toFixed(2)),
      idle,
      loaded,
      p99Ratio: Number((loaded.p99 / idle.p99).toFixed(2)),
      signIns: { statuses: Object.fromEntries(Object.entries(signIns.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0])), timeouts: signIns.timeouts, errors: signIns.errors, p50: signIns.latency.p50, p99: signIns.latency.p99, max: signIns.latency.max }
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  } finally {
    await service.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
