import fc from 'fast-check'
import t from 'tap'
import { ERROR_CODES } from '../../src/domain/errors'
import { MAX_ID } from '../../src/schemas/common'
import { bearer, build, userWith } from '../support/app'
import { report, statsOf, type Sample } from '../support/load'

/**
 * Property-based tests of the schemas through the real app (fastify.inject), beside
 * schemathesis: fast-check draws inputs from the contract's own rules, not from the OpenAPI
 * document, so a schema that drifted from the contract shows here. Bounded: RUNS per
 * property, a fixed seed so a failure replays.
 */

const RUNS = 150
const SEED = 13

const text = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', minLength: min, maxLength: max })
const date = fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))
const isbn = fc.tuple(fc.array(fc.constantFrom(...'0123456789-'), { minLength: 10, maxLength: 17 }), fc.boolean())
  .map(([chars, x]) => (x ? [...chars.slice(0, -1), 'X'] : chars).join(''))

/** A body the contract says create and replace take: "Create/update take every field but id, created_at, updated_at". */
const validBook = fc.record({
  title: text(1, 255),
  author: text(1, 255),
  published_at: date,
  description: text(0, 2000),
  isbn,
  total_pages: fc.integer({ min: 1, max: MAX_ID })
}, { requiredKeys: ['title', 'author'] })

/** One field of a valid body broken the ways the contract names ("Bodies are not coerced"), or an unknown field added. */
const brokenBook = fc.tuple(validBook, fc.oneof(
  fc.record({ field: fc.constantFrom('title', 'author'), value: fc.constantFrom<unknown>('', null, 1, ['x'], 'x'.repeat(256)) }),
  fc.record({ field: fc.constant('published_at'), value: fc.constantFrom<unknown>('2003-02-30', '2003-01-01T00:00:00Z', '03-01-01', 20030101, null) }),
  fc.record({ field: fc.constant('isbn'), value: fc.constantFrom<unknown>('123456789', '1'.repeat(18), '12345X7890', 1234567890) }),
  fc.record({ field: fc.constant('total_pages'), value: fc.constantFrom<unknown>(0, -1, 1.5, '100', MAX_ID + 1, null) }),
  fc.record({ field: fc.constantFrom('id', 'created_at', 'extra'), value: fc.constantFrom<unknown>(1, 'x') })
)).map(([book, { field, value }]) => ({ body: { ...book, [field]: value }, field }))

interface Answer { statusCode: number, code?: string, details?: Array<{ path: string }> }

t.test('schemas: what the contract accepts is stored as sent, what it refuses is a 400 naming the field', { timeout: 120_000 }, async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const samples: Sample[] = []
  let newestId = 0
  /** A POST /books, timed and counted (failed: not the status the contract says). */
  const post = async (payload: Record<string, unknown>, expected: number) => {
    const started = performance.now()
    const res = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload })
    samples.push({ kind: 'write', at: started, ms: performance.now() - started, status: res.statusCode, failed: res.statusCode !== expected, stale: false })
    return res
  }

  await fc.assert(fc.asyncProperty(validBook, async (book) => {
    const created = await post(book, 201)
    if (created.statusCode !== 201) throw new Error(`valid book refused: ${created.statusCode} ${created.body}`)
    const { id } = created.json<{ id: number }>()
    newestId = Math.max(newestId, id)
    const read = await app.inject({ url: `/books/${id}` })
    const stored = read.json<Record<string, unknown>>()
    for (const [field, value] of Object.entries(book)) {
      if (stored[field] !== value) throw new Error(`${field}: sent ${JSON.stringify(value)}, read back ${JSON.stringify(stored[field])}`)
    }
  }), { numRuns: RUNS, seed: SEED })
  const accepted = statsOf(samples.splice(0), 1000, 0)
  report(t, 'properties', `valid book bodies (${RUNS})`, accepted, undefined, 'POST /books')
  t.equal(accepted.failed, 0, 'every valid body was stored as sent')

  await fc.assert(fc.asyncProperty(brokenBook, async ({ body, field }) => {
    const res = await post(body, 400)
    const answer = res.json<Answer>()
    if (res.statusCode !== 400 || answer.code !== 'VALIDATION_ERROR') throw new Error(`${field}=${JSON.stringify(body[field as keyof typeof body])}: ${res.statusCode} ${res.body}`)
    if (!(answer.details ?? []).some((d) => d.path === `/${field}`)) throw new Error(`${field}: details do not name it: ${res.body}`)
  }), { numRuns: RUNS, seed: SEED })
  const refused = statsOf(samples.splice(0), 1000, 0)
  report(t, 'properties', `broken book bodies (${RUNS})`, refused, undefined, 'POST /books')
  t.equal(refused.failed, 0, 'every broken body was a 400 VALIDATION_ERROR naming the field')
  t.same((await app.inject({ url: `/books?after=${newestId}&limit=100` })).json(), [], 'no refused body stored a book')

  // Any string in a path parameter or the query: never a 5xx, always the one error shape.
  const hostile = fc.string({ unit: 'binary', maxLength: 300 }).map(encodeURIComponent)
  const urls = fc.oneof(
    hostile.map((s) => `/books/${s}`),
    hostile.map((s) => `/reviews/${s}`),
    hostile.map((s) => `/books/${s}/reviews`),
    fc.tuple(fc.constantFrom('limit', 'o', 'after', 'q'), fc.oneof(hostile, fc.integer().map(String), fc.bigInt().map(String)))
      .map(([k, v]) => `/books?${k}=${v}`),
    fc.tuple(fc.constantFrom('limit', 'o', 'q'), fc.oneof(hostile, fc.integer().map(String))).map(([k, v]) => `/books/1/reviews?${k}=${v}`)
  )
  await fc.assert(fc.asyncProperty(urls, async (url) => {
    const started = performance.now()
    const res = await app.inject({ url })
    const ok = res.statusCode < 500 && (res.statusCode < 400 || ERROR_CODES.includes(res.json<Answer>().code as typeof ERROR_CODES[number]))
    samples.push({ kind: 'read', at: started, ms: performance.now() - started, status: res.statusCode, failed: !ok, stale: false })
    if (!ok) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  }), { numRuns: RUNS * 2, seed: SEED })
  const urlStats = statsOf(samples.splice(0), 1000, 0)
  report(t, 'properties', `hostile path and query values (${RUNS * 2})`, urlStats, undefined, 'GET')
  t.equal(urlStats.failed, 0, 'no hostile URL got a 5xx or an answer outside the contract\'s codes')
})
