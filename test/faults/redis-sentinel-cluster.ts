import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { SAMPLE_BOOK, bearer, uniqueEmail } from '../support/app'

/**
 * What test/faults/redis-sentinel.test.ts and redis-cluster.test.ts ask of the app on each
 * topology, before a failover and again after it: every path that keeps state in Redis. Each
 * answer that is not what the contract says becomes one line; none: the paths work.
 */

/** AUTH_RATE_LIMIT for these apps: small enough to reach, and each check signs in from an address of its own. */
export const AUTH_LIMIT = 8
export const MAX_FAILURES = 3

let addresses = 0
const freshAddress = (): string => `10.21.${Math.floor(++addresses / 250) % 250}.${(addresses % 250) + 1}`

const hitsOf = (app: FastifyInstance): number =>
  Object.values(app.cacheCoherence?.stats().namespaces ?? {}).reduce((sum, n) => sum + n.hits, 0)

export async function exercise (app: FastifyInstance, authorToken: string, bookId: number): Promise<string[]> {
  const problems: string[] = []
  // Invalidation, then a hit: a write makes the new title visible at once, and a repeated read is served by Redis.
  const title = `ha ${randomUUID()}`
  const put = await app.inject({ method: 'PUT', url: `/books/${bookId}`, headers: bearer(authorToken), payload: { ...SAMPLE_BOOK, title } })
  if (put.statusCode !== 200) problems.push(`PUT /books: ${put.statusCode} ${put.body}`)
  const hitsBefore = hitsOf(app)
  for (let i = 0; i < 3; i++) {
    const got = await app.inject({ method: 'GET', url: `/books/${bookId}` })
    if (got.statusCode !== 200 || got.json<{ title: string }>().title !== title) problems.push(`GET after PUT: ${got.statusCode} ${got.body.slice(0, 100)}`)
  }
  if (hitsOf(app) <= hitsBefore) problems.push('no cache hit on repeated reads')

  // Idempotency-Key: the repeat replays the first answer.
  const key = randomUUID()
  const post = async (): Promise<Awaited<ReturnType<FastifyInstance['inject']>>> =>
    app.inject({ method: 'POST', url: '/books', headers: { ...bearer(authorToken), 'idempotency-key': key }, payload: { ...SAMPLE_BOOK, title: `ha idem ${key}` } })
  const first = await post()
  const again = await post()
  if (first.statusCode !== 201) problems.push(`idempotent POST: ${first.statusCode} ${first.body}`)
  else if (again.statusCode !== 201 || again.headers['idempotent-replayed'] !== 'true' || again.body !== first.body) {
    problems.push(`idempotent repeat: ${again.statusCode} replayed=${String(again.headers['idempotent-replayed'])}`)
  }

  // The sign-in throttle: MAX_FAILURES wrong passwords, then 429 even with the right one.
  const remoteAddress = freshAddress()
  const email = uniqueEmail('ha')
  const password = 'a fine long passphrase'
  const signUp = await app.inject({ method: 'POST', url: '/users', remoteAddress, payload: { email, password } })
  if (signUp.statusCode !== 201) problems.push(`sign-up: ${signUp.statusCode} ${signUp.body}`)
  for (let i = 0; i < MAX_FAILURES; i++) {
    const wrong = await app.inject({ method: 'POST', url: '/users/sign-in', remoteAddress, payload: { email, password: 'not the password at all' } })
    if (wrong.statusCode !== 401) problems.push(`wrong sign-in: ${wrong.statusCode}`)
  }
  const throttled = await app.inject({ method: 'POST', url: '/users/sign-in', remoteAddress, payload: { email, password } })
  if (throttled.statusCode !== 429 || throttled.json<{ code: string }>().code !== 'TOO_MANY_SIGN_IN_FAILURES') problems.push(`throttle: ${throttled.statusCode} ${throttled.body}`)

  // The rate limit: AUTH_LIMIT sign-ins from one address, then 429 RATE_LIMITED.
  const limited = freshAddress()
  const codes: number[] = []
  for (let i = 0; i <= AUTH_LIMIT; i++) {
    const res = await app.inject({ method: 'POST', url: '/users/sign-in', remoteAddress: limited, payload: { email: uniqueEmail('nobody'), password } })
    codes.push(res.statusCode)
    if (i === AUTH_LIMIT && (res.statusCode !== 429 || res.json<{ code: string }>().code !== 'RATE_LIMITED')) problems.push(`rate limit: ${codes.join(',')} ${res.body}`)
  }
  return problems
}

/** Runs exercise() until it finds nothing wrong; resolves to the ms it took, or the last problems after `withinMs`. */
export async function workingAgain (app: FastifyInstance, authorToken: string, bookId: number, withinMs: number): Promise<{ ms: number, problems: string[] }> {
  const t0 = Date.now()
  let problems: string[] = []
  while (Date.now() - t0 < withinMs) {
    problems = await exercise(app, authorToken, bookId)
    if (problems.length === 0) return { ms: Date.now() - t0, problems }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return { ms: Date.now() - t0, problems }
}
