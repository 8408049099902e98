import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { Config } from '../../config/schema'
import type { Book } from '../../src/schemas/book'
import { ADMIN, bearer, SAMPLE_BOOK, signUp, skipSuite, startSession, twoInstances, uniqueEmail, userWith } from '../support/app'
import { binaryAvailable, throwawayRedis } from '../support/servers'

/**
 * Two instances of the app on one SQLite file and one Redis, as two replicas behind a load
 * balancer: neither may read what the other's writes made stale, and the sign-in throttle
 * and the per-address rate limit count across both.
 */

/**
 * A private redis-server per pair when the binary is there, else REDIS_URL. Private because
 * the rate limiter's keys are not namespaced per run: they count per address (127.0.0.1 for
 * inject), so pairs, or anything else, on one Redis would add to each other's counts.
 */
async function redisFor (t: Test): Promise<string> {
  if (binaryAvailable('redis-server')) {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    return redis.url
  }
  if (process.env.REDIS_URL !== undefined) return process.env.REDIS_URL
  throw new Error('no Redis')
}

async function pair (t: Test, overrides: Partial<Config> = {}): Promise<[FastifyInstance, FastifyInstance]> {
  const { a, b } = await twoInstances(t, { redisUrl: await redisFor(t), ...overrides })
  return [a, b]
}

const signInAs = (app: FastifyInstance, email: string, password: string) =>
  app.inject({ method: 'POST', url: '/users/sign-in', payload: { email, password } })

if (!binaryAvailable('redis-server') && process.env.REDIS_URL === undefined) {
  skipSuite(t, 'two-instance suite', 'no redis-server binary and no REDIS_URL=redis://... (npm run services prints it)')
} else {
  t.test('a write on one instance is read at once on the other', async (t) => {
    const [a, b] = await pair(t)
    const author = await userWith(a, 2)
    const tag = randomUUID().slice(0, 8)
    const list = `/books?q=${tag}&limit=100`

    t.same((await a.inject({ url: list })).json(), [], 'A caches the empty page')
    t.same((await a.inject({ url: list })).json(), [], 'and reads it from the cache')
    const created = await b.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Shared ${tag}` } })
    t.equal(created.statusCode, 201)
    const book = created.json<Book>()
    t.same((await a.inject({ url: list })).json<Book[]>().map((x) => x.title), [`Shared ${tag}`], 'A sees B’s new book')

    t.equal((await a.inject({ url: `/books/${book.id}` })).json<Book>().title, `Shared ${tag}`, 'A caches the book')
    const put = await b.inject({ method: 'PUT', url: `/books/${book.id}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Renamed ${tag}` } })
    t.equal(put.statusCode, 200)
    t.equal((await a.inject({ url: `/books/${book.id}` })).json<Book>().title, `Renamed ${tag}`, 'A sees B’s update')
    t.same((await a.inject({ url: list })).json<Book[]>().map((x) => x.title), [`Renamed ${tag}`], 'in lists too')

    const del = await a.inject({ method: 'DELETE', url: `/books/${book.id}`, headers: bearer(author.token) })
    t.equal(del.statusCode, 204)
    t.equal((await b.inject({ url: `/books/${book.id}` })).statusCode, 404, 'B sees A’s delete')
    t.same((await b.inject({ url: list })).json(), [])
  })

  t.test('the sign-in throttle counts failures across instances', async (t) => {
    const [a, b] = await pair(t, { signinMaxFailures: 3 })
    const user = await signUp(a)
    for (let i = 1; i <= 3; i++) {
      t.equal((await signInAs(a, user.email, 'wrong password!')).statusCode, 401, `failure ${i} on A`)
    }
    const throttled = await signInAs(b, user.email, user.password)
    t.equal(throttled.statusCode, 429, 'B refuses even the right password')
    t.match(throttled.json(), { statusCode: 429, code: 'TOO_MANY_SIGN_IN_FAILURES', error: 'Too Many Requests' })
    const retryAfter = Number(throttled.headers['retry-after'])
    t.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter} s`)
    t.equal((await signInAs(a, uniqueEmail(), 'some password')).statusCode, 401, 'other emails are not throttled')
  })

  t.test('the per-address rate limit counts requests across instances', async (t) => {
    const [a, b] = await pair(t, { authRateLimit: 3 })
    const statuses = [
      (await signInAs(a, uniqueEmail(), 'some password')).statusCode,
      (await signInAs(b, uniqueEmail(), 'some password')).statusCode,
      (await signInAs(a, uniqueEmail(), 'some password')).statusCode
    ]
    t.same(statuses, [401, 401, 401], 'three requests pass, split across A and B')
    const limited = await signInAs(b, uniqueEmail(), 'some password')
    t.equal(limited.statusCode, 429)
    t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests' })
    t.ok(Number(limited.headers['retry-after']) > 0, `Retry-After ${String(limited.headers['retry-after'])}`)
  })

  t.test('a session ended on one instance is refused on the other at once', async (t) => {
    const [a, b] = await pair(t)
    const user = await signUp(a)
    const me = (app: FastifyInstance, token: string) => app.inject({ url: '/users/me', headers: bearer(token) })
    const revoked = { statusCode: 401, code: 'TOKEN_REVOKED', error: 'Unauthorized', message: 'invalid token' }
    const refreshInvalid = { statusCode: 401, code: 'REFRESH_TOKEN_INVALID', error: 'Unauthorized', message: 'invalid token' }

    for (const ending of ['sign-out', 'delete one', 'delete all', 'password change', 'reuse'] as const) {
      const pair = await startSession(a, user.email, 'a fine long passphrase')
      const keeper = await startSession(a, user.email, 'a fine long passphrase')
      t.equal((await me(b, pair.token)).statusCode, 200, `${ending}: B admits the token (and caches the check in Redis)`)
      // Under the sessions namespace's current generation (src/services/sessions.ts).
      t.equal((await b.redis.keys(`${b.config.cacheNamespace}:sessions:*:session:${pair.sid}`)).length, 1, 'the check is in the shared Redis')
      t.equal((await me(b, pair.token)).statusCode, 200)
      switch (ending) {
        case 'sign-out':
          t.equal((await a.inject({ method: 'POST', url: '/users/sign-out', headers: bearer(pair.token) })).statusCode, 204)
          break
        case 'delete one':
          t.equal((await a.inject({ method: 'DELETE', url: `/users/me/sessions/${pair.sid}`, headers: bearer(keeper.token) })).statusCode, 204)
          break
        case 'delete all':
          t.equal((await a.inject({ method: 'DELETE', url: '/users/me/sessions', headers: bearer(pair.token) })).statusCode, 204)
          break
        case 'password change':
          t.equal((await a.inject({ method: 'PUT', url: '/users/me/password', headers: bearer(keeper.token), payload: { current_password: 'a fine long passphrase', new_password: 'a fine long passphrase too' } })).statusCode, 204)
          t.equal((await a.inject({ method: 'PUT', url: '/users/me/password', headers: bearer(keeper.token), payload: { current_password: 'a fine long passphrase too', new_password: 'a fine long passphrase' } })).statusCode, 204)
          break
        case 'reuse': {
          const renewed = await b.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: pair.refresh_token } })
          t.equal(renewed.statusCode, 200)
          const replay = await a.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: pair.refresh_token } })
          t.equal(replay.json().code, 'REFRESH_TOKEN_REUSED')
          break
        }
      }
      const res = await me(b, pair.token)
      t.equal(res.statusCode, 401, `${ending}: B refuses the ended session's token on the next request`)
      t.same(res.json(), revoked)
      t.same((await b.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: pair.refresh_token } })).json(), refreshInvalid)
      if (ending !== 'delete all') t.equal((await me(b, keeper.token)).statusCode, 200, `${ending}: the other session lives on`)
    }
  })

  t.test('a level change on one instance applies to the next request on the other', async (t) => {
    const [a, b] = await pair(t)
    const author = await userWith(a, 2)
    const post = () => b.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })
    t.equal((await post()).statusCode, 201, 'B admits the Author (and caches the check)')
    const admin = await startSession(a, ADMIN.email, ADMIN.password)
    t.equal((await a.inject({ method: 'PATCH', url: `/users/${author.id}`, headers: bearer(admin.token), payload: { permission: 1 } })).statusCode, 200)
    const res = await post()
    t.equal(res.statusCode, 403, 'B refuses the same token at once')
    t.match(res.json(), { code: 'FORBIDDEN' })
    t.equal((await b.inject({ url: '/users/me', headers: bearer(author.token) })).json().permission, 1)
  })

  t.test('an Idempotency-Key is shared: a repeat on the other instance replays, or is 409 while the first runs', async (t) => {
    const [a, b] = await pair(t)
    const author = await userWith(a, 2)
    const tag = randomUUID().slice(0, 8)
    const post = (app: FastifyInstance, key: string, title: string) => app.inject({
      method: 'POST', url: '/books', headers: { ...bearer(author.token), 'idempotency-key': key }, payload: { ...SAMPLE_BOOK, title }
    })
    const first = await post(a, `k-${tag}`, `Once ${tag}`)
    t.equal(first.statusCode, 201)
    const replay = await post(b, `k-${tag}`, `Once ${tag}`)
    t.equal(replay.statusCode, 201)
    t.equal(replay.headers['idempotent-replayed'], 'true', 'B replays what A created')
    t.same(replay.json(), first.json())
    t.equal(replay.headers.location, first.headers.location)
    t.equal((await post(b, `k-${tag}`, `Other ${tag}`)).statusCode, 422, 'another body on B is 422')

    // Hold A's creation in flight: B must see the key in use.
    let open = (): void => {}
    const held = new Promise<void>((resolve) => { open = resolve })
    const original = a.books.create
    Object.assign(a.books, { create: async (...args: Parameters<typeof original>) => { await held; return original(...args) } })
    t.teardown(() => { Object.assign(a.books, { create: original }) })
    const slow = post(a, `s-${tag}`, `Slow ${tag}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const during = await post(b, `s-${tag}`, `Slow ${tag}`)
    t.equal(during.statusCode, 409)
    t.same(during.json(), { statusCode: 409, code: 'IDEMPOTENCY_KEY_IN_USE', error: 'Conflict', message: 'A request with this Idempotency-Key is still being processed; retry shortly' })
    open()
    t.equal((await slow).statusCode, 201)
    const after = await post(b, `s-${tag}`, `Slow ${tag}`)
    t.equal(after.headers['idempotent-replayed'], 'true')
    t.same((await a.inject({ url: `/books?q=${tag}&limit=100` })).json<Book[]>().map((x) => x.title).sort(), [`Once ${tag}`, `Slow ${tag}`], 'two books in all')
  })
}
