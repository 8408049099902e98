import { createHash, createHmac, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import type { Static } from '@sinclair/typebox'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { MongoClient } from 'mongodb'
import tap, { type Test } from 'tap'
import { loadConfig } from '../../config/load'
import type { Config, Settings } from '../../config/schema'
import { buildApp } from '../../src/build'
import type { TokenResponse } from '../../src/schemas/token'
import type { Account } from '../../src/schemas/user'
import { scratchMysql } from './servers'

/**
 * `BOOKSTORE_TEST_APP=real` runs every app that build() makes on the real services named by
 * DATABASE_URL (MySQL), MONGODB_URL and REDIS_URL, each app on a database and cache namespace
 * of its own, dropped afterwards. .ci/run runs the route tests this way as well as on SQLite.
 */
export const REAL_BACKENDS = process.env.BOOKSTORE_TEST_APP === 'real'
/** Where set (error, warn...), apps built without a log stream of their own log at that level to stderr. */
const TEST_LOG_LEVEL = process.env.BOOKSTORE_TEST_LOG_LEVEL as Settings['logLevel'] | undefined
/**
 * Where set, the bound (ms) on every backing-service call of apps on real backends, unless a
 * test sets its own. scripts/ha-routes.ts sets it: there four database servers, six to nine
 * Redis processes and two test files share the machine, and a second's stall is the machine's;
 * what a frozen service gets within the default bound is the fault suites' subject.
 */
const TEST_BACKEND_TIMEOUT_MS = process.env.BOOKSTORE_TEST_BACKEND_TIMEOUT_MS

/**
 * A suite whose service or binary is absent: one loud line on stderr saying what to set or
 * install, and a skip with that reason in the TAP output. Never a silent pass.
 */
export function skipSuite (t: Test, suite: string, why: string): void {
  process.stderr.write(`SKIPPED: ${suite} — ${why}\n`)
  // tap's types want a body even for a skipped test; it never runs.
  t.test(suite, { skip: why }, () => {})
}

/**
 * Whether a suite that starts a cluster of engines or of instances (Redis Sentinel and Cluster,
 * Galera, SQL replicas, a rolling restart) runs here; when not, one loud skip line says why.
 * Those suites prove those failure modes, not the runtime's, and take minutes, so CI runs them
 * once, on its first Node.js: its Node.js 24 pass (scripts/node24.sh) sets
 * BOOKSTORE_CLUSTER_SUITES=once-done. Else `missing`, when given, is what the suite lacks (a
 * binary), and the reason it skips.
 */
export function clusterSuiteRuns (t: Test, suite: string, missing?: string): boolean {
  const why = process.env.BOOKSTORE_CLUSTER_SUITES === 'once-done'
    ? 'cluster suites run once per CI run, and this one ran on the first Node.js (BOOKSTORE_CLUSTER_SUITES=once-done)'
    : missing
  if (why === undefined) return true
  skipSuite(t, suite, why)
  return false
}

if (REAL_BACKENDS) {
  // A file whose tests and teardowns all ended but whose process stays alive says what holds
  // it open (the timer is unref'd: a process that exits never prints it).
  tap.teardown(() => {
    setTimeout(() => process.stderr.write(`teardown: the file's tests ended 30 s ago and the process is still alive; active: ${process.getActiveResourcesInfo().join(', ')}\n`), 30_000).unref()
  })
}

async function realBackends (): Promise<{ overrides: Partial<Settings>, drop: () => Promise<void> }> {
  const { DATABASE_URL, MONGODB_URL, REDIS_URL, REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_CLUSTER_NODES } = process.env
  // Redis as the service reads it: one server, Sentinels, or a Cluster (scripts/ha-routes.ts).
  const redis: Partial<Settings> | undefined = REDIS_SENTINELS !== undefined && REDIS_SENTINEL_NAME !== undefined
    ? { redisSentinels: REDIS_SENTINELS, redisSentinelName: REDIS_SENTINEL_NAME }
    : REDIS_CLUSTER_NODES !== undefined ? { redisClusterNodes: REDIS_CLUSTER_NODES } : REDIS_URL === undefined ? undefined : { redisUrl: REDIS_URL }
  if (DATABASE_URL?.startsWith('mysql://') !== true || MONGODB_URL === undefined || redis === undefined) {
    throw new Error('BOOKSTORE_TEST_APP=real needs DATABASE_URL=mysql://..., MONGODB_URL and REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES (eval "$(npm run -s services)")')
  }
  const sql = await scratchMysql(DATABASE_URL)
  // Replicas of DATABASE_URL's server (scripts/ha-routes.ts): the scratch database reaches them by replication.
  const replicas = process.env.DATABASE_REPLICA_URLS?.split(',').map((replica) => {
    const url = new URL(replica)
    url.pathname = `/${sql.name}`
    return url.toString()
  })
  const mongoUrl = new URL(MONGODB_URL)
  mongoUrl.pathname = `/${sql.name}`
  // With the shared mailpit (MAILPIT_SMTP_URL), mail goes through a real SMTP server too;
  // a sender address of the app's own lets mailbox(app) pick its messages out of everyone's.
  const { MAILPIT_SMTP_URL } = process.env
  const mail: Partial<Settings> = MAILPIT_SMTP_URL === undefined
    ? {}
    : { smtpUrl: MAILPIT_SMTP_URL, mailFrom: `Bookstore <no-reply+${sql.name}@localhost>` }
  const bound: Partial<Settings> = TEST_BACKEND_TIMEOUT_MS === undefined ? {} : { backendTimeoutMs: Number(TEST_BACKEND_TIMEOUT_MS) }
  return {
    overrides: { ...bound, databaseUrl: sql.url, ...(replicas === undefined ? {} : { databaseReplicaUrls: replicas }), mongodbUrl: mongoUrl.toString(), ...redis, cacheNamespace: sql.name, ...mail },
    async drop () {
      await sql.drop()
      const client = await MongoClient.connect(MONGODB_URL, { serverSelectionTimeoutMS: 2000 })
      await client.db(sql.name).dropDatabase()
      await client.close()
    }
  }
}

/** The settings that name a Redis: one of them at most may be set. */
const REDIS_SETTINGS = ['redisUrl', 'redisSentinels', 'redisSentinelName', 'redisClusterNodes'] as const satisfies ReadonlyArray<keyof Settings>

export const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' }

/** One folder per test process for the apps' mail; each app writes into its own subfolder. */
let mailRoot: string | undefined
function mailFolder (): string {
  if (mailRoot === undefined) {
    const root = mkdtempSync(path.join(tmpdir(), 'bookstore-test-mail-'))
    process.once('exit', () => rmSync(root, { recursive: true, force: true }))
    mailRoot = root
  }
  return mkdtempSync(path.join(mailRoot, 'app-'))
}

/** The config every test starts from: in-memory SQLite, quiet logs, a known Admin, mail into a folder of its own. */
export function testConfig (overrides: Partial<Settings> = {}): Config {
  return loadConfig({
    overrides: {
      nodeEnv: 'test',
      logLevel: 'silent',
      databaseUrl: 'sqlite::memory:',
      mailDir: overrides.mailDir ?? mailFolder(),
      adminEmail: ADMIN.email,
      adminPassword: ADMIN.password,
      // Tests build apps and run suites side by side on busy machines, which holds event loops
      // up for real: no shedding on event-loop delay unless a test asks (test/faults/shedding.test.ts).
      shedEventLoopDelayMs: 0,
      ...overrides
    }
  })
}

/**
 * The real app, built by buildApp exactly as the server builds it, ready, and closed when the
 * test ends. Its decorators (stores, cache...) are reachable, as in fastify-cli's test helper.
 */
export async function build (t: Test, overrides: Partial<Settings> = {}, { logStream, beforeReady }: { logStream?: Writable, beforeReady?: (app: FastifyInstance) => void } = {}): Promise<FastifyInstance> {
  const real = REAL_BACKENDS ? await realBackends() : undefined
  // A test that names its own Redis (a private server to freeze) or its own database gets it
  // instead of the run's, without the run's replicas of another database.
  const ownRedis = REDIS_SETTINGS.some((name) => overrides[name] !== undefined)
  const ownDatabase = overrides.databaseUrl !== undefined || overrides.databaseReplicaUrls !== undefined
  const backends = Object.fromEntries(Object.entries(real?.overrides ?? {}).filter(([name]) =>
    !(ownRedis && (REDIS_SETTINGS as readonly string[]).includes(name)) && !(ownDatabase && name === 'databaseReplicaUrls')))
  // A test that reads its app's log keeps it to itself; any other app may write to stderr at
  // BOOKSTORE_TEST_LOG_LEVEL, so a CI log says why an answer was a 5xx (scripts/ha-routes.ts).
  const toStderr = logStream === undefined && overrides.logLevel === undefined && TEST_LOG_LEVEL !== undefined
  const fastify = buildApp(testConfig({ ...backends, ...overrides, ...(toStderr ? { logLevel: TEST_LOG_LEVEL } : {}) }), { logStream: toStderr ? process.stderr : logStream })
  t.teardown(async () => {
    await slowStepNamed('closing the app', () => fastify.close())
    await slowStepNamed('dropping its databases', async () => { await real?.drop() })
  })
  beforeReady?.(fastify)
  await fastify.ready()
  return fastify
}

/**
 * A teardown step that has not returned after 30 s says so on stderr, and again every 30 s: a
 * file that finished its tests and never exited then names what it waits on in CI's log (tap's
 * per-file limit still ends it).
 */
async function slowStepNamed<T> (what: string, step: () => Promise<T>): Promise<T> {
  const started = Date.now()
  const timer = setInterval(() => {
    process.stderr.write(`teardown: ${what} has not returned after ${Math.round((Date.now() - started) / 1000)} s; active: ${process.getActiveResourcesInfo().join(', ')}\n`)
  }, 30_000)
  timer.unref()
  try {
    return await step()
  } finally {
    clearInterval(timer)
  }
}

/**
 * Two instances of the app on one database and one Redis, as two replicas behind a load
 * balancer; without `databaseUrl`, on one SQLite file removed when the test ends. The
 * database and the cache namespace are set explicitly, so BOOKSTORE_TEST_APP=real cannot give
 * each instance its own.
 */
export async function twoInstances (t: Test, settings: Partial<Settings> & { redisUrl: string }): Promise<{ a: FastifyInstance, b: FastifyInstance, namespace: string }> {
  let databaseUrl = settings.databaseUrl
  if (databaseUrl === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-two-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    databaseUrl = `sqlite:${path.join(dir, 'shared.db')}`
  }
  const namespace = settings.cacheNamespace ?? `two-${randomUUID()}`
  const shared = { ...settings, databaseUrl, cacheNamespace: namespace }
  const a = await build(t, shared)
  // The second start-up finds the bootstrap Admin the first created, and keeps it.
  const b = await build(t, shared)
  return { a, b, namespace }
}

/** Log lines as the logger wrote them, parsed: give `stream` to pino or to Fastify's logger. */
export function logLines<T> (): { stream: Writable, lines: T[] } {
  const lines: T[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text) as T)
      done()
    }
  })
  return { stream, lines }
}

/** build(), its log lines captured and parsed. */
export async function buildLogged<T> (t: Test, overrides: Partial<Settings> = {}): Promise<{ app: FastifyInstance, lines: T[] }> {
  const { stream, lines } = logLines<T>()
  return { app: await build(t, overrides, { logStream: stream }), lines }
}

/** What an app's log holds of a 503 a backing service caused (src/http/error-handler.ts). */
export interface UnavailableLine { time: number, msg: string, service?: string, err?: { message?: string } }

/**
 * What the log says caused the 503s of backing services logged from `from` to `to` (ms since
 * the epoch), counted, as the end of a check's message; empty when none. Build the app with
 * buildLogged at level 'error' (or finer).
 */
export function unavailableCauses (lines: readonly UnavailableLine[], from = 0, to = Infinity): string {
  const counts: Record<string, number> = {}
  for (const line of lines) {
    if (line.msg !== 'backing service unavailable' || line.time < from || line.time > to) continue
    const cause = `${line.service ?? '?'}: ${line.err?.message ?? '?'}`
    counts[cause] = (counts[cause] ?? 0) + 1
  }
  return Object.keys(counts).length === 0 ? '' : `; the app logged ${JSON.stringify(counts)}`
}

/** What GET /metrics answers on the metrics server (an app built with metricsPort). */
export async function scrapeMetrics (app: FastifyInstance): Promise<string> {
  const res = await app.metricsServer!.inject({ url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}`)
  return res.body
}

export const uniqueEmail = (tag = 'user'): string => `${tag}-${randomUUID()}@example.com`

export function json<T = Record<string, unknown>> (res: LightMyRequestResponse): T {
  return res.json<T>()
}

/** An account as sign-up and sign-in answer it. */
type AccountBody = Static<typeof Account>

export async function signUp (app: FastifyInstance, email = uniqueEmail(), password = 'a fine long passphrase'): Promise<AccountBody & { password: string }> {
  const res = await app.inject({ method: 'POST', url: '/users', payload: { email, password } })
  if (res.statusCode !== 201) throw new Error(`sign-up failed: ${res.statusCode} ${res.body}`)
  return { ...res.json<AccountBody>(), password }
}

export async function signIn (app: FastifyInstance, email: string, password: string): Promise<string> {
  return (await startSession(app, email, password)).token
}

/** A sign-in's or a refresh's answer, typed by the schema that serializes it. */
export type TokenPair = Static<typeof TokenResponse>

/** A sign-in's whole answer: the access token, the refresh token, and the session id (`sid`). */
export async function startSession (app: FastifyInstance, email: string, password: string): Promise<TokenPair & { sid: string }> {
  const res = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email, password } })
  if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`)
  const body = res.json<TokenPair>()
  return { ...body, sid: sidOf(body.token) }
}

/** The `sid` claim of a token, read without verifying it. */
export function sidOf (token: string): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sid?: unknown }
  if (typeof payload.sid !== 'string') throw new Error('token without sid')
  return payload.sid
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

/** A signed-in user at `permission`, promoted by the bootstrap Admin when above User. */
export async function userWith (app: FastifyInstance, permission: number): Promise<AccountBody & { token: string }> {
  const user = await signUp(app)
  if (permission !== 1) {
    const admin = await signIn(app, ADMIN.email, ADMIN.password)
    const res = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, headers: bearer(admin), payload: { permission } })
    if (res.statusCode !== 200) throw new Error(`promotion failed: ${res.statusCode} ${res.body}`)
  }
  return { id: user.id, email: user.email, token: await signIn(app, user.email, user.password) }
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url')

/** The `kid` the service names a secret by: the first 16 hex digits of its SHA-256. */
export const kidOf = (secret: string): string => createHash('sha256').update(secret).digest('hex').slice(0, 16)

/** Hand-made JWTs for forgery tests: any header, any payload, any key. */
export function forgeToken (header: unknown, payload: unknown, secret: string | null, alg: 'sha256' | 'sha512' = 'sha256'): string {
  const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  if (secret === null) return `${head}.`
  return `${head}.${createHmac(alg, secret).update(head).digest('base64url')}`
}

export const SAMPLE_BOOK = {
  title: 'Test Book',
  author: 'John Doe',
  published_at: '2003-01-01',
  description: 'A sample book description',
  isbn: '1234567890',
  total_pages: 100
}

/** The contract's error shape, asserted whole. */
export function errorBody (statusCode: number, code: string, error: string, message: string): Record<string, unknown> {
  return { statusCode, code, error, message }
}
