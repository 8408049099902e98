import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify'
import fp from 'fastify-plugin'
import t, { type Test } from 'tap'
import redisClientPlugin from '../../plugins/external/redis'
import type { Book } from '../../src/schemas/book'
import { build, bearer, logLines, SAMPLE_BOOK, signUp, skipSuite, testConfig, userWith, type TokenPair } from '../support/app'
import { binaryAvailable, throwawayRedis } from '../support/servers'

/**
 * A private redis-server, frozen (SIGSTOP) and killed (SIGKILL) under the real app. What
 * must hold: reads answer from the database in bounded time, writes and sign-in still work,
 * readiness names Redis while it is down, and nothing stale is read once it is back.
 */

// A bound on hanging, not a benchmark: with Redis frozen an answer takes at most ~0.2 s per
// cache call until the circuit opens (test/faults/breaker.test.ts measures after that).
const HANG_BOUND_MS = 3000

interface LogLine { level: number, msg: string, attempt?: number, retryInMs?: number, code?: string, err?: unknown }

async function timed (app: FastifyInstance, options: InjectOptions): Promise<{ status: number, body: string, headers: Record<string, unknown>, ms: number }> {
  const started = performance.now()
  const res = await app.inject(options)
  return { status: res.statusCode, body: res.body, headers: res.headers, ms: Math.round(performance.now() - started) }
}

if (!binaryAvailable('redis-server')) {
  skipSuite(t, 'Redis failure suite', 'no redis-server binary on PATH (npm run services installs it)')
} else {
  t.test('the app rides out a frozen, then a killed Redis, and reads nothing stale after', async (t) => {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    const namespace = `failure-${randomUUID()}`
    const app = await build(t, { redisUrl: redis.url, cacheNamespace: namespace })
    t.equal(app.cache.name, 'redis')

    const tag = randomUUID().slice(0, 8)
    const author = await userWith(app, 2)
    const reader = await signUp(app)
    const created = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Before ${tag}` } })
    t.equal(created.statusCode, 201)
    const book = created.json<Book>()
    const list = `/books?q=${tag}&limit=100`
    const titles = async (t: Test): Promise<string[]> => {
      const res = await timed(app, { url: list })
      t.equal(res.status, 200, `GET ${list}`)
      t.ok(res.ms < HANG_BOUND_MS, `GET ${list} answered in ${res.ms} ms`)
      return (JSON.parse(res.body) as Book[]).map((b) => b.title)
    }
    const titleOf = async (t: Test, id: number): Promise<string> => {
      const res = await timed(app, { url: `/books/${id}` })
      t.equal(res.status, 200, `GET /books/${id}`)
      t.ok(res.ms < HANG_BOUND_MS, `GET /books/${id} answered in ${res.ms} ms`)
      return (JSON.parse(res.body) as Book).title
    }
    const signIn = async (t: Test, password: string): Promise<number> => {
      const res = await timed(app, { method: 'POST', url: '/users/sign-in', payload: { email: reader.email, password } })
      t.ok(res.ms < HANG_BOUND_MS + 2000, `sign-in answered ${res.status} in ${res.ms} ms`)
      return res.status
    }
    const ready = async (): Promise<{ status: number, body: Record<string, unknown> }> => {
      const res = await timed(app, { url: '/health/ready' })
      return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> }
    }

    t.same(await titles(t), [`Before ${tag}`])
    t.equal(await titleOf(t, book.id), `Before ${tag}`)
    t.same(await titles(t), [`Before ${tag}`], 'now cached')
    t.equal((await app.redis.keys(`${namespace}:books:*`)).length, 3, 'the generation, the page and the book are in Redis')
    t.equal((await ready()).status, 200)

    t.test('frozen (SIGSTOP)', async (t) => {
      redis.signal('SIGSTOP')
      t.teardown(() => redis.signal('SIGCONT'))
      t.same(await titles(t), [`Before ${tag}`])
      t.equal(await titleOf(t, book.id), `Before ${tag}`)

      const write = await timed(app, { method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Frozen ${tag}` } })
      t.equal(write.status, 201, `a write succeeds though invalidation fails (${write.ms} ms)`)
      t.same(await titles(t), [`Before ${tag}`, `Frozen ${tag}`], 'reads bypass the unreachable cache, so they see the write')

      t.equal(await signIn(t, 'not the password'), 401, 'a wrong password is still a 401, not a 5xx')
      t.equal(await signIn(t, reader.password), 200, 'sign-in works: the throttle fails open')

      const health = await ready()
      t.equal(health.status, 503)
      t.match(health.body, { code: 'NOT_READY', message: /redis/, services: { redis: 'down' } })

      redis.signal('SIGCONT')
      const thawed = performance.now()
      t.same(await titles(t), [`Before ${tag}`, `Frozen ${tag}`], 'after SIGCONT the write made during the freeze is visible')
      // The circuit stays open for its cool-down, then a probe closes it and the namespaces are invalidated.
      let status = 0
      while (status !== 200 && performance.now() - thawed < 5000) {
        status = (await ready()).status
        if (status !== 200) await sleep(100)
      }
      t.equal(status, 200, `ready again ${Math.round(performance.now() - thawed)} ms after SIGCONT`)
      t.same(await titles(t), [`Before ${tag}`, `Frozen ${tag}`], 'and cached reads show it too')
    })

    t.test('killed (SIGKILL), then restarted on the same port', async (t) => {
      t.equal(await titleOf(t, book.id), `Before ${tag}`, 'cached before the kill')
      await redis.kill()

      t.equal(await titleOf(t, book.id), `Before ${tag}`)
      t.same(await titles(t), [`Before ${tag}`, `Frozen ${tag}`])
      const health = await ready()
      t.equal(health.status, 503)
      t.match(health.body, { code: 'NOT_READY', message: /redis/, services: { redis: 'down' } })

      const put = await timed(app, { method: 'PUT', url: `/books/${book.id}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Killed ${tag}` } })
      t.equal(put.status, 200, `a write succeeds with Redis dead (${put.ms} ms)`)
      t.equal(await titleOf(t, book.id), `Killed ${tag}`)
      t.equal(await signIn(t, reader.password), 200, 'sign-in works with Redis dead')

      await redis.start()
      const restarted = performance.now()
      let status = 0
      while (status !== 200 && performance.now() - restarted < 15_000) {
        status = (await ready()).status
        if (status !== 200) await sleep(100)
      }
      t.equal(status, 200, `ready again ${Math.round(performance.now() - restarted)} ms after the restart`)

      t.equal(await titleOf(t, book.id), `Killed ${tag}`, 'cached again')
      t.same(await titles(t), [`Killed ${tag}`, `Frozen ${tag}`], 'list cached again')
      const put2 = await app.inject({ method: 'PUT', url: `/books/${book.id}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Back ${tag}` } })
      t.equal(put2.statusCode, 200)
      t.equal(await titleOf(t, book.id), `Back ${tag}`, 'the next read shows the write')
      t.same(await titles(t), [`Back ${tag}`, `Frozen ${tag}`], 'and so does the next list')
    })
  })

  /** Only the redis-client plugin, on a Fastify whose log lines the test can read. */
  function bareApp (t: Test, redisUrl: string): { app: FastifyInstance, lines: LogLine[] } {
    const { stream, lines } = logLines<LogLine>()
    const config = testConfig({ redisUrl })
    const app = Fastify({ logger: { level: 'info', stream }, pluginTimeout: 0 })
    t.teardown(() => app.close())
    // Not awaited: register() resolves only once the plugin has loaded, i.e. once Redis answers.
    app.register(fp(async (instance) => { instance.decorate('config', config) }, { name: 'config' }))
    app.register(redisClientPlugin)
    return { app, lines }
  }

  t.test('start-up waits for a Redis that is down, warning once per attempt, with backoff', async (t) => {
    const redis = await throwawayRedis()
    await redis.kill()
    t.teardown(() => redis.kill())
    const { app, lines } = bareApp(t, redis.url)

    const started = performance.now()
    const booting = app.ready()
    await sleep(1600)
    await redis.start()
    await booting
    const waited = performance.now() - started
    t.ok(waited >= 1600 && waited < 8000, `ready ${Math.round(waited)} ms after start, once Redis answered`)
    t.equal(await app.redis.ping(), 'PONG')

    const warnings = lines.filter((l) => l.level === 40 && l.attempt !== undefined)
    t.ok(warnings.length >= 3, `${warnings.length} warnings`)
    t.same(warnings.map((w) => w.attempt), warnings.map((_w, i) => i + 1), 'numbered attempts')
    t.same(warnings.slice(0, 3).map((w) => w.retryInMs), [250, 500, 1000], 'backoff doubles from 250 ms')
    t.equal(warnings[0]?.code, 'ECONNREFUSED', 'the warning says why')
    t.match(warnings[0]?.msg, /^redis 127\.0\.0\.1:\d+ not answering \(ECONNREFUSED\), attempt 1; retrying in /, 'in one short line')
    t.equal(warnings[0]?.err, undefined, 'without the error object and its stack')
    t.ok(lines.some((l) => l.level === 30 && l.msg === 'redis ready'))
  })

  t.test('start-up waits for a Redis that is frozen', async (t) => {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    redis.signal('SIGSTOP')
    const { app, lines } = bareApp(t, redis.url)
    const started = performance.now()
    const booting = app.ready()
    await sleep(2000)
    redis.signal('SIGCONT')
    await booting
    t.ok(performance.now() - started < 10_000, `ready ${Math.round(performance.now() - started)} ms after start`)
    t.equal(await app.redis.ping(), 'PONG')
    t.ok(lines.some((l) => l.level === 40 && l.attempt === 1), 'the wait was logged')
  })

  t.test('the app closes promptly while Redis is frozen or dead', async (t) => {
    for (const state of ['frozen', 'dead'] as const) {
      const redis = await throwawayRedis()
      t.teardown(() => redis.kill())
      const app = await build(t, { redisUrl: redis.url })
      if (state === 'frozen') redis.signal('SIGSTOP')
      else await redis.kill()
      const started = performance.now()
      await app.close()
      const ms = Math.round(performance.now() - started)
      t.ok(ms < HANG_BOUND_MS, `closed in ${ms} ms with Redis ${state}`)
      // Nothing tries to reconnect afterwards (the client's first retries come within 200-600 ms).
      const attempts: string[] = []
      for (const event of ['connecting', 'connect', 'reconnecting', 'ready']) app.redis.on(event, () => attempts.push(event))
      if (state === 'frozen') redis.signal('SIGCONT')
      await sleep(1500)
      t.same(attempts, [], `no reconnect loop left behind (status ${String(app.redis.status)})`)
      t.not(app.redis.status, 'ready')
    }
  })

  t.test('session checks fall back to the database while Redis is frozen, and nothing stale is admitted after', async (t) => {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    const namespace = `failure-${randomUUID()}`
    const app = await build(t, { redisUrl: redis.url, cacheNamespace: namespace })
    const user = await signUp(app)
    const signInRes = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: user.password } })
    const { token } = signInRes.json<TokenPair>()
    const sid = (app.jwt.decode<{ sid: string }>(token))?.sid ?? ''
    const me = async () => timed(app, { url: '/users/me', headers: bearer(token) })
    t.equal((await me()).status, 200)
    const generation = await app.redis.get(`${namespace}:sessions:generation`)
    t.equal(await app.redis.exists(`${namespace}:sessions:${String(generation)}:session:${sid}`), 1, 'the check is cached in Redis')

    redis.signal('SIGSTOP')
    const frozen = await me()
    t.equal(frozen.status, 200, 'admitted from the database while Redis is frozen')
    t.ok(frozen.ms < HANG_BOUND_MS, `in ${frozen.ms} ms`)
    const out = await timed(app, { method: 'POST', url: '/users/sign-out', headers: bearer(token) })
    t.equal(out.status, 204, 'sign-out works with Redis frozen')
    t.ok(out.ms < HANG_BOUND_MS, `in ${out.ms} ms`)
    const refused = await me()
    t.equal(refused.status, 401, 'the database says the session has ended')
    t.match(JSON.parse(refused.body), { code: 'TOKEN_REVOKED' })

    redis.signal('SIGCONT')
    await sleep(2500)
    t.not(await app.redis.get(`${namespace}:sessions:generation`), generation, 'the stale entry was made unreachable (a new generation) once Redis answered again')
    const after = await me()
    t.equal(after.status, 401, 'and is not admitted from Redis once it is back')
    t.match(JSON.parse(after.body), { code: 'TOKEN_REVOKED' })
  })
}
