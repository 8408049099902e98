import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { SAMPLE_BOOK, bearer, build, skipSuite, twoInstances, userWith } from '../support/app'
import { binaryAvailable, throwawayRedis } from '../support/servers'

/**
 * A crowd on one cold key costs one store read per instance (src/cache/cache-aside.ts), and
 * with Redis, thanks to the lease, one across instances; every request is answered.
 */

const CROWD = 200

/** Counts the book store's reads by id on `app` from now on. */
function countReads (t: Test, app: FastifyInstance): { reads: number } {
  const counter = { reads: 0 }
  const original = app.stores.books.get
  app.stores.books.get = async (id) => {
    counter.reads++
    return await original(id)
  }
  t.teardown(() => { app.stores.books.get = original })
  return counter
}

async function createBook (t: Test, app: FastifyInstance): Promise<number> {
  const author = await userWith(app, 2)
  const res = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })
  t.equal(res.statusCode, 201)
  return res.json<{ id: number }>().id
}

t.test(`${CROWD} concurrent GET /books/:id of one uncached book: one store read, all answered`, async (t) => {
  // Reads counted on the primary's store: without the run's replicas (scripts/ha-routes.ts), if any.
  const app = await build(t, { databaseReplicaUrls: [] })
  const id = await createBook(t, app)
  const counted = countReads(t, app)
  const answers = await Promise.all(Array.from({ length: CROWD }, () => app.inject({ url: `/books/${id}` })))
  t.same(answers.map((res) => res.statusCode), Array(CROWD).fill(200), 'every request answered 200')
  t.ok(answers.every((res) => res.json<{ id: number }>().id === id), 'with the book')
  t.equal(counted.reads, 1, 'one store read for the crowd')

  // A write makes every entry cold at once: again one read.
  const author = await userWith(app, 2)
  t.equal((await app.inject({ method: 'PUT', url: `/books/${id}`, headers: bearer(author.token), payload: { ...SAMPLE_BOOK, title: 'Renamed' } })).statusCode, 200)
  counted.reads = 0
  const again = await Promise.all(Array.from({ length: CROWD }, () => app.inject({ url: `/books/${id}` })))
  t.ok(again.every((res) => res.statusCode === 200 && res.json<{ title: string }>().title === 'Renamed'), 'all 200, renamed')
  t.equal(counted.reads, 1, 'one store read after the invalidation')
})

/** The shared Redis when REDIS_URL is set (each pair has its own cache namespace), else a private one. */
async function redisUrl (t: Test): Promise<string> {
  if (process.env.REDIS_URL !== undefined) return process.env.REDIS_URL
  const server = await throwawayRedis()
  t.teardown(() => server.kill())
  return server.url
}

if (process.env.REDIS_URL === undefined && !binaryAvailable('redis-server')) {
  skipSuite(t, 'single flight across two instances', 'no REDIS_URL=redis://... and no redis-server binary (npm run services)')
} else {
  t.test(`two instances on one Redis, ${CROWD} concurrent GET /books/:id split between them: at most one store read each`, async (t) => {
    const { a, b } = await twoInstances(t, { redisUrl: await redisUrl(t) })
    // Each instance starts a new generation at its first cached read after start-up (src/cache/coherent.ts):
    // a read on each first, as in a running deployment, so both read the generation the write below starts.
    for (const app of [a, b]) t.equal((await app.inject({ url: '/books?limit=1' })).statusCode, 200)
    const id = await createBook(t, a)
    const counted = [countReads(t, a), countReads(t, b)]
    const answers = await Promise.all(Array.from({ length: CROWD }, (_, i) => (i % 2 === 0 ? a : b).inject({ url: `/books/${id}` })))
    t.same(answers.map((res) => res.statusCode), Array(CROWD).fill(200), 'every request answered 200')
    const [onA = 0, onB = 0] = counted.map((c) => c.reads)
    t.ok(onA <= 1 && onB <= 1, `at most one store read per instance (A ${onA}, B ${onB})`)
    t.ok(onA + onB >= 1)
    t.comment(`store reads across both instances: ${onA + onB} (one when the lease held the other off)`)
  })
}
