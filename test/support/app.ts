import { createHash, createHmac, randomUUID } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { MongoClient } from 'mongodb'
import mysql from 'mysql2/promise'
import type { Test } from 'tap'
import { loadConfig } from '../../config/load'
import type { Config, Settings } from '../../config/schema'
import { buildApp } from '../../src/build'

/**
 * `BOOKSTORE_TEST_APP=real` runs every app that build() makes on the real services named by
 * DATABASE_URL (MySQL), MONGODB_URL and REDIS_URL, each app on a database and cache namespace
 * of its own, dropped afterwards. .ci/run runs the route tests this way as well as on SQLite.
 */
export const REAL_BACKENDS = process.env.BOOKSTORE_TEST_APP === 'real'

/** A database name of one test's own: `bookstore_test_` and 12 random hex digits. */
export const scratchName = (): string => `bookstore_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`

/**
 * A database of its own on the MySQL server `serverUrl` names, so tests sharing the server
 * never see each other's rows: its name, its URL, and drop() to remove it afterwards.
 */
export async function scratchMysql (serverUrl: string): Promise<{ name: string, url: string, drop: () => Promise<void> }> {
  const name = scratchName()
  const run = async (sql: string): Promise<void> => {
    const conn = await mysql.createConnection(serverUrl)
    try {
      await conn.query(sql)
    } finally {
      await conn.end()
    }
  }
  await run(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS \`${name}\``) }
}

/**
 * A suite whose service or binary is absent: one loud line on stderr saying what to set or
 * install, and a skip with that reason in the TAP output. Never a silent pass.
 */
export function skipSuite (t: Test, suite: string, why: string): void {
  process.stderr.write(`SKIPPED: ${suite} — ${why}\n`)
  // tap's types want a body even for a skipped test; it never runs.
  t.test(suite, { skip: why }, () => {})
}

async function realBackends (): Promise<{ overrides: Partial<Settings>, drop: () => Promise<void> }> {
  const { DATABASE_URL, MONGODB_URL, REDIS_URL } = process.env
  if (DATABASE_URL?.startsWith('mysql://') !== true || MONGODB_URL === undefined || REDIS_URL === undefined) {
    throw new Error('BOOKSTORE_TEST_APP=real needs DATABASE_URL=mysql://..., MONGODB_URL and REDIS_URL (eval "$(npm run -s services)")')
  }
  const sql = await scratchMysql(DATABASE_URL)
  const mongoUrl = new URL(MONGODB_URL)
  mongoUrl.pathname = `/${sql.name}`
  return {
    overrides: { databaseUrl: sql.url, mongodbUrl: mongoUrl.toString(), redisUrl: REDIS_URL, cacheNamespace: sql.name },
    async drop () {
      await sql.drop()
      const client = await MongoClient.connect(MONGODB_URL, { serverSelectionTimeoutMS: 2000 })
      await client.db(sql.name).dropDatabase()
      await client.close()
    }
  }
}

export const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' }

/** The config every test starts from: in-memory SQLite, quiet logs, a known Admin. */
export function testConfig (overrides: Partial<Settings> = {}): Config {
  return loadConfig({
    overrides: {
      nodeEnv: 'test',
      logLevel: 'silent',
      databaseUrl: 'sqlite::memory:',
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
export async function build (t: Test, overrides: Partial<Settings> = {}): Promise<FastifyInstance> {
  const real = REAL_BACKENDS ? await realBackends() : undefined
  const fastify = buildApp(testConfig({ ...real?.overrides, ...overrides }))
  t.teardown(async () => {
    await fastify.close()
    await real?.drop()
  })
  await fastify.ready()
  return fastify
}

export const uniqueEmail = (tag = 'user'): string => `${tag}-${randomUUID()}@example.com`

export function json<T = Record<string, unknown>> (res: LightMyRequestResponse): T {
  return res.json<T>()
}

export async function signUp (app: FastifyInstance, email = uniqueEmail(), password = 'a fine long passphrase'): Promise<{ id: number, email: string, password: string }> {
  const res = await app.inject({ method: 'POST', url: '/users', payload: { email, password } })
  if (res.statusCode !== 201) throw new Error(`sign-up failed: ${res.statusCode} ${res.body}`)
  return { ...res.json<{ id: number, email: string }>(), password }
}

export async function signIn (app: FastifyInstance, email: string, password: string): Promise<string> {
  return (await startSession(app, email, password)).token
}

export interface TokenPair { token: string, refresh_token: string, expires_in: number, user: { id: number, email: string } }

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
export async function userWith (app: FastifyInstance, permission: number): Promise<{ id: number, email: string, token: string }> {
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
