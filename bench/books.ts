/**
 * `npm run bench`: the service against a bare Fastify baseline sending the very same bytes,
 * side by side in one run, in alternating rounds, each server pinned to core 0 and this load
 * generator to core 1 (taskset, where there is one), and beside them a second instance started
 * once the catalogue is written, which serves reads alone as the baselines do. Prints the ratios and the service's RSS
 * at rest and at its peak; then runs the same load once more on the service with every feature
 * configured (each request traced and exported, passkeys, metrics, CORS) and prints its RSS and
 * what tracing costs a cached read. Only ratios hold on a shared machine; the absolute numbers
 * are for the record.
 *   npm run bench [-- --rounds 3 --seconds 5]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import { ADMIN, HAS_TASKSET, median, oneHitTokens, onServerCore, option, pinLoadGenerator, postJson, signIn, startService, throughput } from './common'
import { waitForHttp } from '../scripts/lib/server'
import { freePort } from '../scripts/lib/throwaway'
import Database from 'better-sqlite3'

const args = process.argv.slice(2)
const ROUNDS = option('rounds', 3)
const SECONDS = option('seconds', 5)
const CONNECTIONS = 50
const QUERIES = 1000

// This process generates the load: off the servers' core.
pinLoadGenerator(__filename, args)

/** Headers a server writes afresh on each answer (the baseline's Node and Fastify do it themselves). */
const PER_ANSWER = new Set(['date', 'connection', 'keep-alive', 'content-length', 'content-type', 'x-request-id'])

interface Server { url: string, child: ChildProcess }

async function startBaseline (recordings: string, probe: string, children: ChildProcess[], mode: 'body' | 'headers'): Promise<Server> {
  const port = await freePort()
  const [cmd, argv] = onServerCore(process.execPath, [path.join(__dirname, 'baseline.js'), recordings, String(port), mode])
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'inherit'] })
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(url + probe)
  return { url, child }
}

/** The server's resident memory now (VmRSS) or at its peak (VmHWM), in MB; its pid under taskset (taskset execs). */
const memoryMb = (child: ChildProcess, which: 'VmRSS' | 'VmHWM'): number => {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
  return Math.round(Number(new RegExp(`${which}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024)
}

/** An OTLP/HTTP endpoint that answers every export with 200 and keeps nothing but a count. */
async function traceSink (): Promise<{ url: string, batches: () => number, close: () => Promise<void> }> {
  let batches = 0
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      if (req.url === '/v1/traces') batches++
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, batches: () => batches, close: async () => { server.closeAllConnections(); server.close() } }
}

/** A burst of concurrent sign-ins, for the memory argon2 takes at its busiest. */
const signInBurst = async (base: string): Promise<void> => {
  await autocannon({
    url: `${base}/users/sign-in`, connections: 20, duration: 3, method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN)
  })
}

/** GET /users/me (or another path) with a credential (a JWT or an API key). */
const secured = (base: string, credential: string, path = '/users/me'): Promise<number> =>
  throughput(base, [path], SECONDS, CONNECTIONS, { authorization: `Bearer ${credential}` })

/** The case whose traced rate is set beside its untraced one. */
const BY_ID = 'GET /books/:id'

const load = (base: string, paths: string[]): Promise<number> => throughput(base, paths, SECONDS, CONNECTIONS)

/**
 * The median of the rounds' own ratios, as issue 22 asks: each round's pair ran back to back,
 * so a machine that slows down between rounds moves both sides of it.
 */
const roundRatio = (ours: number[], theirs: number[]): string => median(ours.map((rate, i) => rate / (theirs[i] ?? NaN))).toFixed(2)

async function main (): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-bench-'))
  const embedded = async (): Promise<NodeJS.ProcessEnv> => ({
    DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
    AUTH_RATE_LIMIT: '1000000',
    API_KEY_RATE_LIMIT: '100000000',
    // What runs on every request in production runs here too: CORS and the metrics.
    CORS_ORIGINS: 'https://app.example.com',
    METRICS_PORT: String(await freePort())
  })
  const service = await startService(await embedded(), { output: { file: path.join(dir, 'service.log') } }) // every request logged, as in production
  const children = [service.child]
  const idleDefault = memoryMb(service.child, 'VmRSS')
  try {
    // A catalogue: 200 books, and 1,000 with a token of their own for one-hit searches.
    const token = await signIn(service.url)
    const post = (body: object) => postJson(`${service.url}/books`, body, token)
    for (let i = 0; i < 200; i++) await post({ title: `Book ${i}`, author: `Author ${i % 17}`, total_pages: 100 + i, description: 'A book of the benchmark catalogue' })
    const tokens = oneHitTokens(QUERIES)
    for (const tok of tokens) await post({ title: `Searchable ${tok}`, author: 'Bench' })

    const cases: Array<{ name: string, paths: string[] }> = [
      { name: 'cached GET /books (a page of 20)', paths: ['/books?limit=20'] },
      { name: BY_ID, paths: ['/books/42'] },
      { name: 'one-hit GET /books?q= (1,000 queries)', paths: tokens.map((tok) => `/books?q=${tok}`) }
    ]
    // What the service answers is what the baselines will send, byte for byte: the body (the
    // issue's baseline), and the body with every header the contract puts on it (the second).
    const recordings = []
    for (const { paths } of cases) {
      for (const p of paths) {
        const res = await fetch(service.url + p)
        const headers = Object.fromEntries([...res.headers].filter(([name]) => !PER_ANSWER.has(name)))
        recordings.push({ path: p, contentType: res.headers.get('content-type') ?? '', headers, body: Buffer.from(await res.arrayBuffer()).toString('base64') })
      }
    }
    const file = path.join(dir, 'recordings.json')
    writeFileSync(file, JSON.stringify(recordings))
    const baseline = await startBaseline(file, '/books/42', children, 'body')
    const wire = await startBaseline(file, '/books/42', children, 'headers')
    // A second instance on the same catalogue, started after it was written: like the
    // baselines, it serves the reads alone. Set beside the service that wrote the catalogue, it
    // shows whether a history of writes slows the reads after it (docs/PERFORMANCE.md).
    const rested = await startService(await embedded(), { output: { file: path.join(dir, 'service-rested.log') } })
    children.push(rested.child)

    const rows: Array<Record<string, string | number>> = []
    /** Each case's per-round ratios to the same bytes, printed under the table: how far the rounds spread. */
    const spread: string[] = []
    /** The same, for the instance that served no writes. */
    const restedSpread: string[] = []
    let untracedById = 0
    for (const { name, paths } of cases) {
      await load(service.url, paths)
      await load(baseline.url, paths)
      await load(wire.url, paths)
      await load(rested.url, paths)
      const ours: number[] = []
      const bare: number[] = []
      const same: number[] = []
      const readsOnly: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        ours.push(await load(service.url, paths))
        bare.push(await load(baseline.url, paths))
        same.push(await load(wire.url, paths))
        readsOnly.push(await load(rested.url, paths))
      }
      if (name === BY_ID) untracedById = median(ours)
      rows.push({
        case: name,
        'service req/s': Math.round(median(ours)),
        'bare Fastify req/s': Math.round(median(bare)),
        ratio: roundRatio(ours, bare),
        '+ same headers req/s': Math.round(median(same)),
        'ratio to that': roundRatio(ours, same)
      })
      const perRound = (rates: number[]): string => rates.map((rate, i) => (rate / (same[i] ?? NaN)).toFixed(2)).join(' ')
      spread.push(`${name}: ${perRound(ours)}`)
      restedSpread.push(`${name}: ${perRound(readsOnly)} (median ${roundRatio(readsOnly, same)})`)
    }
    rested.child.kill('SIGTERM')
    await once(rested.child, 'exit')

    // Sign-in against one argon2id verify of the same stored hash, timed in a process on the
    // service's core, alternating: sign-in, verify, sign-in, ...
    const db = new Database(path.join(dir, 'bench.db'), { readonly: true })
    const { password_hash: hash } = db.prepare('SELECT password_hash FROM users WHERE email = ?').get(ADMIN.email) as { password_hash: string }
    db.close()
    const [verifierCmd, verifierArgv] = onServerCore(process.execPath, [path.join(__dirname, 'verify.js')])
    const verifier = spawn(verifierCmd, verifierArgv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.push(verifier)
    const answer = async (): Promise<{ ms?: number, ok?: boolean }> => (await once(verifier, 'message'))[0] as { ms?: number, ok?: boolean }
    await answer()
    const times: number[] = []
    const verifyMs: number[] = []
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      await signIn(service.url)
      times.push(performance.now() - t0)
      verifier.send({ hash, password: ADMIN.password })
      const verified = await answer()
      if (verified.ok !== true || verified.ms === undefined) throw new Error('the baseline verify did not accept the password')
      verifyMs.push(verified.ms)
    }
    await signInBurst(service.url)
    rows.push({ case: 'sign-in (median of 20) ÷ one argon2id verify', 'service req/s': `${median(times).toFixed(1)} ms`, 'bare Fastify req/s': `${median(verifyMs).toFixed(1)} ms`, ratio: (median(verifyMs) / median(times)).toFixed(2) })

    // A secured read with a JWT and with an API key, alternating: what the key's check costs
    // next to the session check (each one indexed read without Redis).
    const key = (await (await fetch(`${service.url}/users/me/api-keys`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' })
    })).json() as { key: string }).key
    await secured(service.url, token)
    await secured(service.url, key)
    const withJwt: number[] = []
    const withKey: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      withJwt.push(await secured(service.url, token))
      withKey.push(await secured(service.url, key))
    }
    rows.push({ case: 'GET /users/me: API key ÷ JWT', 'service req/s': Math.round(median(withKey)), 'bare Fastify req/s': `JWT ${Math.round(median(withJwt))}`, ratio: roundRatio(withKey, withJwt) })

    // A public read carrying a credential (a script's key, a signed-in page's JWT): public
    // routes ignore it, so it should cost what an anonymous read costs.
    const BOOK = '/books/42'
    const anonymous: number[] = []
    const bookWithKey: number[] = []
    const bookWithJwt: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      anonymous.push(await load(service.url, [BOOK]))
      bookWithKey.push(await secured(service.url, key, BOOK))
      bookWithJwt.push(await secured(service.url, token, BOOK))
    }
    for (const [name, rates] of [['an API key', bookWithKey], ['a JWT', bookWithJwt]] as const) {
      rows.push({ case: `cached GET /books/:id with ${name} ÷ none`, 'service req/s': Math.round(median(rates)), 'bare Fastify req/s': `none ${Math.round(median(anonymous))}`, ratio: roundRatio(rates, anonymous) })
    }

    const defaultPeak = memoryMb(service.child, 'VmHWM')
    service.child.kill('SIGTERM')
    await once(service.child, 'exit')

    // The same service with every feature of the contract configured: traces of every request
    // exported (to a sink here that takes OTLP/HTTP and keeps nothing), passkeys, metrics,
    // CORS, mail, API keys. Its memory at rest and at its peak through the same load, and
    // what the traces cost a cached read.
    const sink = await traceSink()
    try {
      const full = await startService({
        DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
        AUTH_RATE_LIMIT: '1000000',
        API_KEY_RATE_LIMIT: '100000000',
        CORS_ORIGINS: 'https://app.example.com',
        METRICS_PORT: String(await freePort()),
        APP_URL: 'https://books.example.com',
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url
      }, { output: { file: path.join(dir, 'service-full.log') } })
      children.push(full.child)
      const idle = memoryMb(full.child, 'VmRSS')
      let tracedById = 0
      for (const { name, paths } of cases) {
        const rate = await load(full.url, paths)
        if (name === BY_ID) tracedById = rate
      }
      await signInBurst(full.url)
      await secured(full.url, key)
      await secured(full.url, await signIn(full.url))
      rows.push({ case: `${BY_ID}, every request traced ÷ untraced`, 'service req/s': Math.round(tracedById), 'bare Fastify req/s': `untraced ${Math.round(untracedById)}`, ratio: (tracedById / untracedById).toFixed(2) })
      console.table(rows)
      console.log(`per-round ratios to the same bytes on the wire:\n  ${spread.join('\n  ')}`)
      console.log(`the same, for a second instance started once the catalogue was written (no write served):\n  ${restedSpread.join('\n  ')}`)
      console.log(`the service (embedded default, CORS, metrics): RSS at rest ${idleDefault} MB, peak ${defaultPeak} MB` +
        `${HAS_TASKSET ? '' : ' (no taskset: servers and load share the cores)'}; ${ROUNDS} alternating rounds of ${SECONDS} s, ${CONNECTIONS} connections`)
      console.log(`with every feature configured (traces exported: ${sink.batches()} OTLP batches): RSS at rest ${idle} MB, peak ${memoryMb(full.child, 'VmHWM')} MB through the same load`)
    } finally {
      await sink.close()
    }
  } finally {
    for (const child of children) child.kill('SIGTERM')
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
