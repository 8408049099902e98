import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { Settings } from '../../config/schema'
import mysql from 'mysql2/promise'
import pino from 'pino'
import { REPLICA_PAIR_PASSWORD, throwawayReplicaPair, type ReplicaPair, type ReplicaServer } from '../../scripts/lib/replica'
import { MYSQL_POOL_OPTIONS, mysqlDialect } from '../../src/stores/mysql/dialect'
import { createReplicaRouter } from '../../src/stores/mysql/replicas'
import { createBookStore } from '../../src/stores/sql/books'
import type { SqlDialect } from '../../src/stores/sql/dialect'
import { createUserStore } from '../../src/stores/sql/users'
import type { Book } from '../../src/schemas/book'
import { ADMIN, bearer, build, clusterSuiteRuns, logLines, SAMPLE_BOOK, scrapeMetrics, signIn, signUp, twoInstances, userWith } from '../support/app'
import { injector, report, seedBooks, startLoad, type Send } from '../support/load'
import { binaryAvailable, throwawayRedis, type ThrowawayRedis } from '../support/servers'

/**
 * SQL read replicas (DATABASE_REPLICA_URLS) on a real MariaDB primary and replica
 * (scripts/lib/replica.ts): which reads the replica answers, read-your-writes while its SQL
 * thread is stopped, a lagging and a frozen replica under load through two instances (writes
 * on A, reads on B), and no cache fill from a replica behind an acknowledged write.
 */

const PHASE_MS = 2500

async function comSelect (server: ReplicaServer): Promise<number> {
  const [row] = await server.admin("SHOW GLOBAL STATUS LIKE 'Com_select'")
  return Number(row?.Value ?? 0)
}

/** Waits until the app's router uses (or stops using) replica-1; resolves with how long it took. */
async function replicaUsable (app: FastifyInstance, usable: boolean, withinMs = 10_000): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < withinMs) {
    if (app.stores.replicaStatus?.().find((r) => r.name === 'replica-1')?.usable === usable) return Date.now() - started
    await sleep(20)
  }
  throw new Error(`replica-1 not ${usable ? 'usable' : 'skipped'} within ${withinMs} ms`)
}

const readsOn = (app: FastifyInstance, name: string): number => app.stores.replicaStatus?.().find((r) => r.name === name)?.reads ?? 0

const missing = ['mariadbd', 'mariadb-install-db', 'redis-server'].some((cmd) => !binaryAvailable(cmd)) ? 'mariadbd, mariadb-install-db or redis-server not installed (npm run services installs them)' : undefined
if (clusterSuiteRuns(t, 'read replica fault suite', missing)) {
  // One primary, one replica and one Redis for every case; each case builds its own apps.
  t.test('read replicas', { timeout: 240_000 }, async (t) => {
  const started = await Promise.allSettled([throwawayReplicaPair(), throwawayRedis()])
  t.teardown(async () => { await Promise.all(started.map(async (s) => { if (s.status === 'fulfilled') await s.value.dispose() })) })
  for (const s of started) if (s.status === 'rejected') throw s.reason
  const pair = (started[0] as PromiseFulfilledResult<ReplicaPair>).value
  const redis = (started[1] as PromiseFulfilledResult<ThrowawayRedis>).value
  const replica = (): ReplicaServer => pair.replicas[0] as ReplicaServer
  const settings = (more: Partial<Settings> = {}): Partial<Settings> =>
    ({ databaseUrl: pair.primary.url, databaseReplicaUrls: [replica().url], replicaMaxLagSeconds: 30, ...more })
  /** The SQL thread stopped for `fn`, then started again and caught up. */
  const sqlThreadStopped = async <T>(fn: () => Promise<T>): Promise<T> => {
    await replica().admin('STOP SLAVE SQL_THREAD')
    try {
      return await fn()
    } finally {
      await replica().admin('START SLAVE SQL_THREAD')
      await pair.synced()
    }
  }

  t.test('uncached reads of books and users go to the replica, writes to the primary', { timeout: 60_000 }, async (t) => {
    const app = await build(t, settings({ redisUrl: redis.url, cacheNamespace: `r-${randomUUID()}`, metricsPort: 0 }))
    const author = await userWith(app, 2)
    const admin = await signIn(app, ADMIN.email, ADMIN.password)
    const created = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: 'On the primary' } })
    t.equal(created.statusCode, 201, 'a write succeeds: the replica is read-only, so the primary took it')
    await pair.synced()
    await replicaUsable(app, true)
    // The router's last poll must cover the write before this instance reads its own data there.
    await sleep(700)
    const before = await comSelect(replica())
    const usersBefore = readsOn(app, 'replica-1')
    const n = 20
    for (let i = 0; i < n; i++) {
      const res = await app.inject({ url: `/users/${author.id}`, headers: bearer(admin) })
      t.equal(res.statusCode, 200)
      if (res.statusCode !== 200) break
    }
    const lists = await Promise.all(Array.from({ length: 5 }, (_, i) => app.inject({ url: `/books?q=${encodeURIComponent('On the primary')}&limit=${i + 1}` })))
    t.same(lists.map((r) => r.statusCode), [200, 200, 200, 200, 200], 'book pages (cache misses) answered')
    t.ok(lists.every((r) => r.json<Book[]>().some((b) => b.id === created.json<Book>().id)), 'each shows the book just written')
    const selects = await comSelect(replica()) - before
    const routed = readsOn(app, 'replica-1') - usersBefore
    process.stderr.write(`FAULTS replicas | routing | ${n} user reads + 5 book page misses | replica Com_select +${selects} | reads on replica-1 +${routed}\n`)
    t.ok(selects >= n + 5, `the replica ran the reads (Com_select +${selects})`)
    t.ok(routed >= n + 5, `the router sent ${routed} reads to the replica`)
    const metrics = await scrapeMetrics(app)
    t.match(metrics, /^bookstore_replica_usable\{replica="replica-1"\} 1$/m, 'the metrics say the replica is used')
    t.match(metrics, /^bookstore_replica_lag_seconds\{replica="replica-1"\} \d/m, 'and its proven lag')
    t.match(metrics, new RegExp(`^bookstore_replica_reads_total\\{server="replica-1"\\} ${routed}$`, 'm'), 'and how many reads it answered')
  })

  t.test('the log names the replica skipped and why, never its URL or password', { timeout: 60_000 }, async (t) => {
    const { stream, lines } = logLines<{ msg: string, replica?: string, reason?: string }>()
    const primary = mysql.createPool({ uri: pair.primary.url, ...MYSQL_POOL_OPTIONS })
    const pool = mysql.createPool({ uri: replica().url, ...MYSQL_POOL_OPTIONS })
    const storesOf = (db: SqlDialect) => ({ books: createBookStore(db), users: createUserStore(db) })
    const router = createReplicaRouter({
      primary,
      primaryStores: storesOf(mysqlDialect(primary)),
      replicas: [{ name: 'replica-1', pool, stores: storesOf(mysqlDialect(pool)) }],
      maxLagSeconds: 1,
      readTimeoutMs: 500,
      log: pino({ level: 'info' }, stream)
    })
    t.teardown(async () => { router.stop(); await Promise.all([primary.end(), pool.end()]) })
    const logged = async (msg: string, reason: RegExp | undefined, from: number): Promise<{ reason?: string }> => {
      for (let waited = 0; waited < 10_000; waited += 20) {
        const line = lines.slice(from).find((l) => l.msg === msg && l.replica === 'replica-1' && (reason === undefined || reason.test(l.reason ?? '')))
        if (line !== undefined) return line
        await sleep(20)
      }
      throw new Error(`no "${msg}" line${reason === undefined ? '' : ` with a reason like ${String(reason)}`}`)
    }
    await logged('read replica in use', undefined, 0)
    let from = lines.length
    await sqlThreadStopped(async () => {
      // A write the stopped replica cannot apply: its proven age then grows past the bound.
      await pair.primary.admin('CREATE TABLE bookstore.lag_marker (id INT PRIMARY KEY)')
      t.match(await logged('read replica skipped', /more than 1 s behind the primary \(its SQL thread is not running\)/, from), {}, 'a stopped SQL thread, named as such')
      from = lines.length
    })
    await logged('read replica in use', undefined, from)
    from = lines.length
    replica().signal('SIGSTOP')
    try {
      t.match(await logged('read replica skipped', /^not answering/, from), {}, 'a frozen replica: not answering')
    } finally {
      replica().signal('SIGCONT')
    }
    await logged('read replica in use', undefined, from)
    const text = lines.map((l) => JSON.stringify(l)).join('\n')
    t.notMatch(text, REPLICA_PAIR_PASSWORD, 'no password in the log')
    t.notMatch(text, /mysql:\/\//, 'no URL in the log')
    process.stderr.write(`FAULTS replicas | log | ${lines.filter((l) => l.msg.startsWith('read replica')).map((l) => `${l.msg}${l.reason === undefined ? '' : ` (${l.reason})`}`).join('; ')}\n`)
  })

  t.test('read-your-writes while the replica applies nothing', { timeout: 60_000 }, async (t) => {
    const app = await build(t, settings({ redisUrl: redis.url, cacheNamespace: `r-${randomUUID()}` }))
    const author = await userWith(app, 2)
    await pair.synced()
    await replicaUsable(app, true)
    await sleep(700)
    await sqlThreadStopped(async () => {
      const primaryReads = readsOn(app, 'primary')
      // A new account: its own GET /users/me right after sign-up and sign-in.
      const user = await signUp(app)
      const token = await signIn(app, user.email, user.password)
      const me = await app.inject({ url: '/users/me', headers: bearer(token) })
      t.equal(me.statusCode, 200, 'the account the replica has not applied is found')
      t.equal(me.json<{ email: string }>().email, user.email)
      // Books written now, then walked page by page through the Link headers.
      const tag = `ryw${randomUUID().replaceAll('-', '').slice(0, 8)}`
      const ids: number[] = []
      for (let i = 0; i < 5; i++) {
        const res = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `${tag} ${i}` } })
        ids.push(res.json<Book>().id)
      }
      const renamed = await app.inject({ method: 'PUT', url: `/books/${ids[0]}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `${tag} renamed` } })
      t.equal(renamed.statusCode, 200)
      const one = await app.inject({ url: `/books/${ids[0]}` })
      t.equal(one.json<Book>().title, `${tag} renamed`, 'GET /books/:id shows the update at once')
      const seen: number[] = []
      let url: string | undefined = `/books?q=${tag}&limit=2`
      while (url !== undefined) {
        const page: Awaited<ReturnType<typeof app.inject>> = await app.inject({ url })
        t.equal(page.statusCode, 200)
        seen.push(...page.json<Book[]>().map((b) => b.id))
        url = /<([^>]+)>; rel="next"/.exec(String(page.headers.link ?? ''))?.[1]
      }
      t.same(seen, ids, 'every page, through the Links, holds the books just written')
      t.ok(readsOn(app, 'primary') > primaryReads, 'the primary answered them')
    })
  })

  t.test('no cache fill from a replica behind an acknowledged write', { timeout: 60_000 }, async (t) => {
    const { a, b } = await twoInstances(t, { ...settings(), redisUrl: redis.url })
    const author = await userWith(a, 2)
    const tag = `fill${randomUUID().replaceAll('-', '').slice(0, 8)}`
    const [id] = await seedBooks(injector(a), author.token, tag, 1)
    await pair.synced()
    await replicaUsable(b, true)
    await sleep(700)
    const first = await b.inject({ url: `/books/${id}` })
    t.equal(first.json<Book>().title, `${tag} ${id} v0`)
    await sqlThreadStopped(async () => {
      const put = await a.inject({ method: 'PUT', url: `/books/${id}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `${tag} ${id} v1` } })
      t.equal(put.statusCode, 200, 'the write on A is acknowledged')
      // B never wrote: its replica is within the lag bound, yet a fill must not come from it.
      t.equal(b.stores.replicaStatus?.().find((r) => r.name === 'replica-1')?.usable, true, 'B still uses the replica')
      const missed = await b.inject({ url: `/books/${id}` })
      t.equal(missed.json<Book>().title, `${tag} ${id} v1`, 'the miss on B shows the write (read from the primary)')
    })
    for (let i = 0; i < 3; i++) {
      const again = await b.inject({ url: `/books/${id}` })
      t.equal(again.json<Book>().title, `${tag} ${id} v1`, 'after the replica resumed, the cache holds no older entry')
    }
  })

  /**
   * Sign-ups on A (each acknowledged one is a write) and `GET /users?q=` on B (uncached, so a
   * replica's when one is current enough). A list is stale when it misses an account whose
   * sign-up was acknowledged more than `allowanceMs` before the read began; `oldestMs`: the
   * age of the oldest acknowledged account a list missed.
   */
  function userTraffic (a: FastifyInstance, b: FastifyInstance, admin: string, allowanceMs: number) {
    const tag = `u${randomUUID().replaceAll('-', '').slice(0, 10)}`
    const acked: number[] = []
    const figures = { writes: 0, reads: 0, failed: 0, stale: 0, oldestMs: 0 }
    let stopping = false
    const writer = (async () => {
      for (let n = 0; !stopping && n < 90; n++) {
        const res = await a.inject({ method: 'POST', url: '/users', payload: { email: `${tag}-${n}@example.com`, password: 'a fine long passphrase' } })
        if (res.statusCode === 201) acked.push(Date.now())
        figures.writes++
        await sleep(30)
      }
    })()
    const reader = (async () => {
      while (!stopping) {
        const began = Date.now()
        const ackedBefore = acked.filter((at) => at <= began).length
        const required = acked.filter((at) => at <= began - allowanceMs).length
        const res = await b.inject({ url: `/users?q=${tag}&limit=100`, headers: bearer(admin) })
        figures.reads++
        if (res.statusCode !== 200) figures.failed++
        else {
          const seen = res.json<unknown[]>().length
          if (seen < required) figures.stale++
          if (seen < ackedBefore) figures.oldestMs = Math.max(figures.oldestMs, began - (acked[seen] ?? began))
        }
        await sleep(5)
      }
    })()
    return {
      async stop () {
        stopping = true
        await Promise.all([writer, reader])
        return figures
      }
    }
  }

  /** Two instances (A writes, B reads) on the pair, with a shared Redis or each with its own memory cache. */
  async function loaded (t: Test, shared: boolean, fault: { name: string, on: () => Promise<void>, off: () => Promise<void> }): Promise<void> {
    const maxLag = 1
    // Without Redis, B's own cache may hold an entry for its TTL: the contract's allowance.
    const cacheTtlSeconds = shared ? 60 : 1
    const common = settings({ replicaMaxLagSeconds: maxLag, cacheTtlSeconds, authRateLimit: 100_000 })
    const { a, b } = shared
      ? await twoInstances(t, { ...common, redisUrl: redis.url })
      : { a: await build(t, common), b: await build(t, common) }
    const author = await userWith(a, 2)
    const tag = `l${randomUUID().replaceAll('-', '').slice(0, 10)}`
    const books = await seedBooks(injector(a), author.token, tag, 6)
    await pair.synced()
    await replicaUsable(b, true)
    // Uncached reads beside the load: A signs accounts up one after another, B lists them.
    const users = userTraffic(a, b, await signIn(a, ADMIN.email, ADMIN.password), maxLag * 1000)
    const reader: Send = injector(b)
    // Book reads go through the cache, which no lagging replica fills: through a shared Redis
    // they show every acknowledged write; with memory caches, B's own entries may be a TTL old.
    const allowanceMs = shared ? 0 : 1000 * cacheTtlSeconds
    const load = startLoad({ writer: injector(a), readers: [reader], token: author.token, books, tag, slowMs: 1000, timeoutMs: 5000, maxMs: 60_000, staleAllowanceMs: allowanceMs })
    await sleep(PHASE_MS)
    load.mark('fault')
    const at = Date.now()
    await fault.on()
    const skippedMs = await replicaUsable(b, false, 5000).catch(() => Infinity)
    await sleep(Math.max(0, PHASE_MS - (Date.now() - at)))
    load.mark('healed')
    await fault.off()
    await sleep(PHASE_MS)
    const result = await load.stop()
    const accounts = await users.stop()
    const mode = shared ? 'shared Redis' : 'memory caches'
    process.stderr.write(`FAULTS replicas | ${fault.name}, ${mode} | replica skipped by B after ${skippedMs} ms | reads on B: replica ${readsOn(b, 'replica-1')}, primary ${readsOn(b, 'primary')} | stale allowance ${allowanceMs} ms\n`)
    process.stderr.write(`FAULTS replicas | ${fault.name}, ${mode} | user list reads on B n=${accounts.reads} failed=${accounts.failed} stale=${accounts.stale} (allowance ${maxLag * 1000} ms) oldest=${accounts.oldestMs} ms | sign-ups on A ${accounts.writes}\n`)
    t.ok(accounts.reads > 0 && accounts.writes > 0, `${accounts.writes} sign-ups on A, ${accounts.reads} user lists on B`)
    t.equal(accounts.failed, 0, 'no failed user read on B')
    t.equal(accounts.stale, 0, `no user list on B misses an account acknowledged more than ${maxLag} s before`)
    t.ok(skippedMs <= 2000, `${fault.name}: B stopped using the replica within 2 s (${skippedMs} ms)`)
    for (const [phase, from, to] of [['before', 'start', 'fault'], [fault.name, 'fault', 'healed'], ['after', 'healed', 'end']] as const) {
      const reads = result.window('read', from, to)
      const writes = result.window('write', from, to)
      report(t, `replicas ${mode}`, phase, reads, writes)
      t.ok(reads.count > 0 && writes.count > 0, `${phase}: ${writes.count} writes on A, ${reads.count} reads on B`)
      t.equal(reads.failed, 0, `${phase}: no failed read`)
      t.equal(writes.failed, 0, `${phase}: no failed write`)
      t.equal(reads.stale, 0, `${phase}: no read on B older than ${allowanceMs} ms`)
    }
  }

  for (const shared of [true, false]) {
    t.test(`a lagging replica under load (${shared ? 'shared Redis' : 'memory caches'})`, { timeout: 60_000 }, async (t) => {
      await loaded(t, shared, {
        name: 'SQL thread stopped',
        on: async () => { await replica().admin('STOP SLAVE SQL_THREAD') },
        off: async () => { await replica().admin('START SLAVE SQL_THREAD'); await pair.synced() }
      })
    })
  }

  t.test('a frozen replica under load', { timeout: 60_000 }, async (t) => {
    await loaded(t, false, {
      name: 'replica frozen',
      on: async () => { replica().signal('SIGSTOP') },
      off: async () => { replica().signal('SIGCONT'); await pair.synced() }
    })
  })
  })
}
