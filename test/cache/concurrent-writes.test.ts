import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { CoherenceStats } from '../../src/cache/coherent'
import type { Book } from '../../src/schemas/book'
import { bearer, build, SAMPLE_BOOK, skipSuite, twoInstances, userWith } from '../support/app'
import { binaryAvailable, scratchMysql, throwawayRedis } from '../support/servers'

/**
 * Issue 21: writers and readers at once, with Redis untouched throughout, must never make the
 * coherence guard (src/cache/coherent.ts) find the cache lost: a false alarm distrusts every
 * namespace and sends reads to the database until each is invalidated again. On one
 * instance, and on two sharing one database and one Redis (writes on A, reads on B).
 * bench/coherence.ts measures the same over HTTP, longer (before the fix: dozens of false
 * alarms in 15 s).
 *
 * The hit-rate bound: the writers share one session, and nothing signs it out, so its
 * cached check is never invalidated: every check hits but those made before the first
 * check's entry landed, at most one per writer. A single false alarm costs at least one more
 * miss (the sessions namespace gets a new generation before it is trusted again) and
 * refuses reads meanwhile, so more than WRITERS misses, or any refusal, is the guard crying
 * wolf. A call that fails or times out (a machine so busy that Redis' answer waits past the
 * client's 200 ms) is a loss by design, and allowed for: one more miss each, and refusals
 * meanwhile; Redis "going back" or a dropped connection are not. Book reads miss legitimately (every write starts a new generation of the whole
 * namespace); their hit rate is reported, not bounded.
 *
 * SQLite, and MariaDB as well when DATABASE_URL=mysql://... is set; a private redis-server
 * (else REDIS_URL). COHERENCE_LOAD_MS lengthens the run (default 4 s each).
 */

const WRITERS = 10
const READERS = 50
const BOOKS = 20
const LOAD_MS = Number(process.env.COHERENCE_LOAD_MS ?? 4000)

async function redisFor (t: Test): Promise<string> {
  if (binaryAvailable('redis-server')) {
    const redis = await throwawayRedis()
    t.teardown(() => redis.kill())
    return redis.url
  }
  if (process.env.REDIS_URL !== undefined) return process.env.REDIS_URL
  throw new Error('no Redis')
}

interface Load { writes: number, reads: number, stale: number, failed: string[] }

/** Writers (GET then PUT, each on books of its own) on `writer`, readers on `reader`, for LOAD_MS. */
async function load (writer: FastifyInstance, reader: FastifyInstance): Promise<Load> {
  const author = await userWith(writer, 2)
  const ids: number[] = []
  for (let i = 0; i < BOOKS; i++) {
    const res = await writer.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Book ${i} v0` } })
    ids.push(res.json<Book>().id)
  }
  const acked = new Map(ids.map((id) => [id, 0]))
  const result: Load = { writes: 0, reads: 0, stale: 0, failed: [] }
  const versionOf = (title: string): number => Number(/ v(\d+)$/.exec(title)?.[1] ?? -1)
  const deadline = Date.now() + LOAD_MS

  async function writeLoop (w: number): Promise<void> {
    // One writer per book, so a book's versions commit in the order they are numbered.
    const mine = ids.filter((_, i) => i % WRITERS === w)
    for (let i = 0; Date.now() < deadline; i++) {
      const id = mine[i % mine.length] ?? 0
      const got = await writer.inject({ url: `/books/${id}` })
      if (got.statusCode !== 200) { result.failed.push(`GET ${got.statusCode}`); continue }
      const version = versionOf(got.json<Book>().title) + 1
      const put = await writer.inject({ method: 'PUT', url: `/books/${id}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `Book ${id} v${version}` } })
      if (put.statusCode !== 200) { result.failed.push(`PUT ${put.statusCode}`); continue }
      result.writes++
      acked.set(id, version)
    }
  }

  async function readLoop (n: number): Promise<void> {
    for (let i = 0; Date.now() < deadline; i++) {
      const page = (i + n) % 4 === 0
      const id = ids[(i * 7 + n) % ids.length] ?? 0
      // What was acknowledged before the read left: it must show that or newer.
      const floor = new Map(acked)
      const res = await reader.inject({ url: page ? '/books?limit=100&q=Book' : `/books/${id}` })
      if (res.statusCode !== 200) { result.failed.push(`read ${res.statusCode}`); continue }
      result.reads++
      const body = res.json<Book | Book[]>()
      for (const b of Array.isArray(body) ? body : [body]) if (versionOf(b.title) < (floor.get(b.id) ?? 0)) result.stale++
    }
  }

  await Promise.all([
    ...Array.from({ length: WRITERS }, async (_, w) => writeLoop(w)),
    ...Array.from({ length: READERS }, async (_, n) => readLoop(n))
  ])
  return result
}

const coherence = (app: FastifyInstance): CoherenceStats => {
  const stats = app.cacheCoherence?.stats()
  if (stats === undefined) throw new Error('no coherence guard: the app has no Redis')
  return stats
}

function check (t: Test, label: string, run: Load, instances: Array<[string, FastifyInstance]>, writer: FastifyInstance, reader: FastifyInstance): void {
  t.ok(run.writes >= WRITERS && run.reads >= READERS, `${label}: ${run.writes} writes, ${run.reads} reads in ${LOAD_MS} ms`)
  // A database slower than BACKEND_TIMEOUT_MS (a shared MariaDB on a busy machine) answers 503;
  // the cache, failing or not, never turns a request into anything else.
  t.same(run.failed.filter((f) => !f.endsWith(' 503')), [], `every request answered 200, or 503 from the database's deadline (${run.failed.length})`)
  t.equal(run.stale, 0, 'no read showed a book older than a write acknowledged before it was sent')
  let failures = 0
  for (const [name, app] of instances) {
    const { losses, found, namespaces } = coherence(app)
    t.equal(found.wentBack, 0, `${name}: no answer was taken for Redis going back`)
    t.equal(found.reset, 0, `${name}: the connection never dropped`)
    // A call that times out (commandTimeout 200 ms: a machine so busy that Redis' answer waits
    // that long) is a loss by design, not a false alarm; so is nothing else here.
    t.ok(losses <= found.failed, `${name}: ${losses} "cache lost" warnings, each after a failed call (${found.failed} failed)`)
    if (found.failed === 0) for (const [ns, { refused }] of Object.entries(namespaces)) t.equal(refused, 0, `${name}: no ${ns} read refused as untrusted`)
    failures += losses
  }
  const { namespaces, found } = coherence(writer)
  const sessions = namespaces.sessions ?? { reads: 0, hits: 0, refused: 0 }
  const misses = sessions.reads - sessions.hits
  // A session check whose cache call failed (a Redis too busy to answer within its timeout)
  // is not counted as a read: each write is checked once, counted or failed.
  t.ok(sessions.reads + found.failed >= run.writes, `session checks: ${sessions.reads}, and ${found.failed} failed cache calls, for ${run.writes} writes`)
  t.ok(misses <= WRITERS + failures, `session checks hit ${(100 * sessions.hits / sessions.reads).toFixed(1)} %: ${misses} misses, at most one per writer (and one per loss after a failed call: ${failures})`)
  const books = coherence(reader).namespaces.books ?? { reads: 0, hits: 0, refused: 0 }
  t.ok(books.hits > 0, `book reads hit ${(100 * books.hits / books.reads).toFixed(1)} % (${books.hits} of ${books.reads}; each write starts a new generation)`)
}

async function suite (t: Test, databaseUrl: () => Promise<string>): Promise<void> {
  t.test('one instance: concurrent writers and readers never look like a lost cache', async (t) => {
    const a = await build(t, { redisUrl: await redisFor(t), databaseUrl: await databaseUrl(), cacheNamespace: `load-${randomUUID()}` })
    const run = await load(a, a)
    check(t, 'one instance', run, [['A', a]], a, a)
  })

  t.test('two instances, writes on A, reads on B: neither looks lost', async (t) => {
    const { a, b } = await twoInstances(t, { redisUrl: await redisFor(t), databaseUrl: await databaseUrl() })
    const run = await load(a, b)
    check(t, 'two instances', run, [['A', a], ['B', b]], a, b)
  })
}

if (!binaryAvailable('redis-server') && process.env.REDIS_URL === undefined) {
  skipSuite(t, 'concurrent-writes coherence suite', 'no redis-server binary and no REDIS_URL=redis://... (npm run services prints it)')
} else {
  t.test('on SQLite', async (t) => {
    await suite(t, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-coherence-'))
      t.teardown(() => rmSync(dir, { recursive: true, force: true }))
      return `sqlite:${path.join(dir, 'shared.db')}`
    })
  })
  const mysql = process.env.DATABASE_URL
  if (mysql?.startsWith('mysql://') === true) {
    t.test('on MariaDB', async (t) => {
      await suite(t, async () => {
        const scratch = await scratchMysql(mysql)
        t.teardown(() => scratch.drop())
        return scratch.url
      })
    })
  } else {
    skipSuite(t, 'concurrent-writes coherence suite on MariaDB', 'set DATABASE_URL=mysql://... (npm run services prints it)')
  }
}
