import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { SAMPLE_BOOK, bearer, buildLogged, skipSuite, unavailableCauses, userWith, type UnavailableLine } from '../support/app'
import { binaryAvailable, throwawayFerretdb, throwawayMariadb, type Throwaway } from '../support/servers'
import { errorsOf, injector, report, seedBooks, startLoad, type Answer, type LoadResult } from '../support/load'

/**
 * Private MariaDB and FerretDB processes frozen (SIGSTOP), thawed, killed and restarted under
 * a read/write load on the real app. What a client must see: a request that needs the
 * service that is down answers 503 SERVICE_UNAVAILABLE in the contract's shape with
 * Retry-After within the store deadline (never a hang, never a 500); readiness names the
 * service; once it is back everything answers 200 again without restarting the app, no
 * read misses an acknowledged write, and no write that failed is left half-done.
 */

const DEADLINE_MS = 1000
/** The deadline plus room for a shared 2-core machine: an answer later than this hung. */
const BOUND_MS = DEADLINE_MS + 1000
const PHASE_MS = 3000
const UNAVAILABLE = { statusCode: 503, code: 'SERVICE_UNAVAILABLE', error: 'Service Unavailable', message: 'A backing service is unavailable; try again shortly' }

/** A 200, or a 503 exactly in the contract's shape with Retry-After. */
function acceptable (_kind: 'read' | 'write', answer: Answer): boolean {
  if (answer.status === 200) return true
  if (answer.status !== 503 || answer.headers['retry-after'] === undefined) return false
  try {
    return JSON.stringify(JSON.parse(answer.body)) === JSON.stringify(UNAVAILABLE)
  } catch {
    return false
  }
}

interface Ready { status: number, ms: number, services: Record<string, string> }
async function readiness (app: FastifyInstance): Promise<Ready> {
  const started = performance.now()
  const res = await app.inject({ url: '/health/ready' })
  const body = res.json<{ services?: Record<string, string> }>()
  return { status: res.statusCode, ms: performance.now() - started, services: body.services ?? {} }
}

/** Waits until readiness is 200 again; how long it took, in ms (or Infinity). */
async function recovered (app: FastifyInstance, withinMs: number): Promise<number> {
  const started = performance.now()
  while (performance.now() - started < withinMs) {
    if ((await readiness(app)).status === 200) return performance.now() - started
    await sleep(100)
  }
  return Infinity
}

if (['mariadbd', 'ferretdb'].some((cmd) => !binaryAvailable(cmd))) {
  skipSuite(t, 'database fault suite', 'mariadbd or ferretdb not installed (npm run services installs them)')
} else {
  t.test('MariaDB and FerretDB frozen, killed and restarted under load', { timeout: 120_000 }, async (t) => {
    const mysql = await throwawayMariadb()
    const mongo = await throwawayFerretdb()
    t.teardown(async () => { await mysql.dispose(); await mongo.dispose() })
    // Its errors are kept: a check that fails says why a 503 was answered (a deadline, a driver's error).
    const { app, lines } = await buildLogged<UnavailableLine>(t, { databaseUrl: mysql.url, mongodbUrl: mongo.url, backendTimeoutMs: DEADLINE_MS, logLevel: 'error' })
    const send = injector(app)
    const author = await userWith(app, 2)
    const tag = `s${randomUUID().replaceAll('-', '').slice(0, 10)}`
    const books = await seedBooks(send, author.token, tag, 4)
    const reviewed = books[0] ?? 0
    const review = await app.inject({ method: 'POST', url: '/reviews', headers: bearer(author.token), payload: { book_id: reviewed, title: 'Kept', content: 'through every outage' } })
    t.equal(review.statusCode, 201)
    const reviewId = review.json<{ id: string }>().id

    const load = startLoad({
      writer: send,
      readers: [send],
      token: author.token,
      books,
      tag,
      slowMs: BOUND_MS,
      timeoutMs: 10_000,
      maxMs: 90_000,
      accept: acceptable,
      extraReads: [`/books/${reviewed}/reviews`, `/reviews/${reviewId}`]
    })

    /** During an outage: a create, a half-done book delete, readiness. Returns what to check after. */
    const probes: Array<{ what: string, title: string, status: number }> = []
    const cascades: Array<{ book: number, reviews: string[], status: number }> = []
    async function outage (t: Test, server: Throwaway, name: string, service: 'mysql' | 'mongodb', how: 'SIGSTOP' | 'SIGKILL'): Promise<void> {
      // A book with reviews, to delete while the service is down: the book and its reviews go together or stay together.
      const victim = (await send({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: `${tag}-victim` } }))
      const victimId = (JSON.parse(victim.body) as { id: number }).id
      const victimReviews: string[] = []
      for (let i = 0; i < 2; i++) {
        const r = await send({ method: 'POST', url: '/reviews', headers: bearer(author.token), payload: { book_id: victimId, title: `r${i}`, content: 'c' } })
        victimReviews.push((JSON.parse(r.body) as { id: string }).id)
      }

      load.mark(`${name} down`)
      if (how === 'SIGSTOP') server.signal('SIGSTOP')
      else await server.kill()
      await sleep(500)

      const title = `${tag}-probe-${name.replaceAll(' ', '-')}`
      const started = performance.now()
      const created = await send({ method: 'POST', url: '/books', headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title } })
      const createMs = performance.now() - started
      probes.push({ what: name, title, status: created.status })
      if (service === 'mysql') {
        t.equal(created.status, 503, `${name}: a create needs MySQL: 503`)
        t.ok(acceptable('write', created), `${name}: in the contract's shape, with Retry-After: ${created.body}`)
        // The load's reads may all be cache hits (its failed writes invalidate nothing): a page
        // never asked for must reach MySQL, so the outage bites reads whatever the cache holds.
        const uncached = await send({ url: `/books?o=${1_000_000 + Math.floor(Math.random() * 1_000_000)}&limit=1` })
        t.equal(uncached.status, 503, `${name}: a read the cache cannot answer needs MySQL: 503`)
        t.ok(acceptable('read', uncached), `${name}: in the contract's shape, with Retry-After: ${uncached.body}`)
      }
      t.ok(createMs <= BOUND_MS, `${name}: the create answered in ${createMs.toFixed(0)} ms`)

      const deleted = await send({ method: 'DELETE', url: `/books/${victimId}`, headers: bearer(author.token) })
      cascades.push({ book: victimId, reviews: victimReviews, status: deleted.status })
      t.ok([204, 503].includes(deleted.status), `${name}: deleting a reviewed book answers ${deleted.status}`)

      const ready = await readiness(app)
      t.equal(ready.status, 503, `${name}: not ready`)
      t.equal(ready.services[service], 'down', `${name}: readiness names ${service}: ${JSON.stringify(ready.services)}`)
      t.ok(ready.ms <= BOUND_MS, `${name}: readiness answered in ${ready.ms.toFixed(0)} ms`)
      await sleep(PHASE_MS)

      load.mark(`${name} back`)
      if (how === 'SIGSTOP') server.signal('SIGCONT')
      else await server.start()
      const ms = await recovered(app, 20_000)
      t.ok(ms < 20_000, `${name}: ready again ${ms.toFixed(0)} ms after the ${how === 'SIGSTOP' ? 'thaw' : 'restart'}`)
      load.mark(`${name} recovered`)
      await sleep(PHASE_MS)
      load.mark(`${name} end`)
    }

    await sleep(PHASE_MS)
    load.mark('healthy end')
    await t.test('MariaDB frozen', (t) => outage(t, mysql, 'mariadb frozen', 'mysql', 'SIGSTOP'))
    await t.test('MariaDB killed and restarted', (t) => outage(t, mysql, 'mariadb killed', 'mysql', 'SIGKILL'))
    await t.test('FerretDB frozen', (t) => outage(t, mongo, 'ferretdb frozen', 'mongodb', 'SIGSTOP'))
    await t.test('FerretDB killed and restarted', (t) => outage(t, mongo, 'ferretdb killed', 'mongodb', 'SIGKILL'))
    const result: LoadResult = await load.stop()
    /** What the app logged as the cause of 503s to requests sent between two marks (a store's fails by its deadline). */
    const causes = (from: string, to: string): string => unavailableCauses(lines, result.epochOf(from), result.epochOf(to) + DEADLINE_MS)

    const healthy = (name: string, from: string, to: string): void => {
      const reads = result.window('read', from, to)
      const writes = result.window('write', from, to)
      report(t, 'stores', name, reads, writes)
      t.same(Object.keys(reads.statuses), ['200'], `${name}: every read 200 (${reads.count})${errorsOf(reads)}${causes(from, to)}`)
      t.same(Object.keys(writes.statuses), ['200'], `${name}: every write 200 (${writes.count})${errorsOf(writes)}${causes(from, to)}`)
      t.equal(reads.stale, 0, `${name}: no stale read`)
    }
    healthy('healthy', 'start', 'healthy end')
    for (const name of ['mariadb frozen', 'mariadb killed', 'ferretdb frozen', 'ferretdb killed']) {
      const reads = result.window('read', `${name} down`, `${name} back`)
      const writes = result.window('write', `${name} down`, `${name} back`)
      report(t, 'stores', `${name} (down)`, reads, writes)
      t.equal(reads.failed + writes.failed, 0, `${name}: every answer a 200 or the contract's 503 (reads ${JSON.stringify(reads.statuses)}, writes ${JSON.stringify(writes.statuses)}); reads${errorsOf(reads) || ' none'}; writes${errorsOf(writes) || ' none'}`)
      t.ok(Math.max(reads.max, writes.max) <= BOUND_MS, `${name}: slowest answer ${Math.max(reads.max, writes.max).toFixed(0)} ms (bound ${BOUND_MS} ms)`)
      t.equal(reads.stale, 0, `${name}: no stale read`)
      healthy(`${name} (recovered)`, `${name} recovered`, `${name} end`)
    }

    // Nothing half-written: a create that answered 503 either never happened or left a whole book.
    for (const probe of probes) {
      const found = (await app.inject({ url: `/books?q=${probe.title}&limit=100` })).json<Array<Record<string, unknown>>>()
      t.ok(found.length <= 1, `${probe.what}: the create that answered ${probe.status} left ${found.length} book(s)`)
      for (const book of found) t.match(book, { ...SAMPLE_BOOK, title: probe.title }, `${probe.what}: and it is whole`)
      if (probe.status === 201) t.equal(found.length, 1, `${probe.what}: the acknowledged create is there`)
    }
    // A book deleted while a service was down: gone with its reviews, or there with them.
    for (const c of cascades) {
      const book = (await app.inject({ url: `/books/${c.book}` })).statusCode
      const reviews = await Promise.all(c.reviews.map(async (id) => (await app.inject({ url: `/reviews/${id}` })).statusCode))
      if (c.status === 204) t.equal(book, 404, `delete answered 204: book ${c.book} is gone`)
      t.same(reviews, reviews.map(() => book === 404 ? 404 : 200), `delete of book ${c.book} answered ${c.status}: the book now answers ${book}, its reviews ${JSON.stringify(reviews)}`)
    }
  })
}
