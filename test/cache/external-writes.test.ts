import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { importFile } from '../../scripts/import'
import { readCatalogue, seed } from '../../scripts/seed'
import { followExternalWrites } from '../../src/cache/external-writes'
import { createMemoryCache } from '../../src/cache/memory'
import type { Book } from '../../src/schemas/book'
import { ADMIN, bearer, build, SAMPLE_BOOK, signIn } from '../support/app'
import { cacheContract } from './cache.contract'

/**
 * The embedded default's in-process cache follows writes that other processes make to the
 * same SQLite file (npm run seed, npm run import, a second instance): a running app reads
 * them at once, not after CACHE_TTL_SECONDS.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-external-writes-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

/**
 * Two apps on one new SQLite file, each with its own connection and in-process cache, as the
 * running service and `npm run seed` beside it. A long TTL, so only an invalidation can make
 * a cached page go.
 */
async function onOneFile (t: Test): Promise<{ running: FastifyInstance, other: FastifyInstance }> {
  const settings = { databaseUrl: `sqlite:${path.join(dir, `shared-${++files}.db`)}`, cacheTtlSeconds: 3600 }
  const running = await build(t, settings)
  const other = await build(t, settings)
  return { running, other }
}

const titles = async (app: FastifyInstance, url: string): Promise<string[]> =>
  (await app.inject({ url })).json<Book[]>().map((b) => b.title)

t.test('the wrapped in-process cache keeps the cache contract', async (t) => {
  const cache = followExternalWrites(createMemoryCache(), () => 0)
  t.teardown(() => cache.close())
  cacheContract(t, async () => cache)
})

t.test('another connection\'s commit starts a new generation at the next read; counters stay', async (t) => {
  let version = 7
  const cache = followExternalWrites(createMemoryCache(), () => version)
  t.teardown(() => cache.close())
  const first = await cache.readGeneration('books', 'page:1', 'g1', 60)
  t.equal(first.generation, 'g1')
  await cache.writeGeneration('books', 'g1', 'page:1', Buffer.from('cached'), 60)
  await cache.incr('signin-failures:x', 60)
  t.equal((await cache.readGeneration('books', 'page:1', 'g2', 60)).value?.toString(), 'cached', 'same version: a hit')

  version = 8
  // The version is asked at most every millisecond: a commit shows to reads that start later.
  await sleep(2)
  t.same(await cache.readGeneration('books', 'page:1', 'g3', 60), { generation: 'g3', value: undefined }, 'changed: a new generation, the entry unreachable')
  await sleep(2)
  t.same(await cache.readGeneration('books', 'page:1', 'g4', 60), { generation: 'g3', value: undefined }, 'and only one')
  t.equal((await cache.peek('signin-failures:x')).count, 1, 'the counter is still there')
})

t.test('a burst of reads asks the version about once a millisecond, not once a read', async (t) => {
  let asked = 0
  const cache = followExternalWrites(createMemoryCache(), () => { asked++; return 1 })
  t.teardown(() => cache.close())
  for (let i = 0; i < 100; i++) await cache.readGeneration('books', 'page:1', 'g1', 60)
  t.ok(asked < 10, `asked ${asked} times for 100 reads`)
})

t.test('a peek is a read: another connection\'s commit makes it answer nothing, and the next read starts the generation', async (t) => {
  let version = 7
  let asked = 0
  const cache = followExternalWrites(createMemoryCache(), () => { asked++; return version })
  t.teardown(() => cache.close())
  // One look-up, made before anything is read and called again and again, as a hot read calls it.
  const look = cache.peekGeneration?.('books', 'page:1')
  const peek = (): string | undefined => look?.()?.toString()
  t.equal(peek(), undefined, 'before the first read: nothing (no version seen yet)')
  await cache.readGeneration('books', 'page:1', 'g1', 60)
  await cache.writeGeneration('books', 'g1', 'page:1', Buffer.from('cached'), 60)
  t.equal(peek(), 'cached', 'same version: the entry')
  asked = 0
  for (let i = 0; i < 100; i++) peek()
  t.ok(asked < 10, `the version asked about once a millisecond (${asked} times for 100 peeks)`)

  version = 8
  await sleep(2)
  t.equal(peek(), undefined, 'changed: nothing')
  await sleep(2)
  t.equal(peek(), undefined, 'and still nothing: the change is left for the read')
  t.same(await cache.readGeneration('books', 'page:1', 'g2', 60), { generation: 'g2', value: undefined }, 'the read starts the new generation')
  await cache.writeGeneration('books', 'g2', 'page:1', Buffer.from('fresh'), 60)
  t.equal(peek(), 'fresh')
})

t.test('a cache without peekGeneration gets none by being followed', async (t) => {
  const { peekGeneration: _left, ...remote } = createMemoryCache()
  const cache = followExternalWrites(remote, () => 1)
  t.teardown(() => cache.close())
  t.equal(cache.peekGeneration, undefined)
})

t.test('a page and a book cached by the running app show another app\'s writes to the same file at once', async (t) => {
  const { running, other } = await onOneFile(t)
  t.same(await titles(running, '/books?limit=100'), [], 'the running app caches the empty page')

  const catalogue = readCatalogue()
  const sample = { books: catalogue.books.slice(0, 3), reviews: [] }
  await seed(other, sample)
  t.same(await titles(running, '/books?limit=100'), sample.books.map((b) => b.title), 'seeded books, no wait')

  const [book] = (await running.inject({ url: '/books?limit=1' })).json<Book[]>()
  if (book === undefined) throw new Error('no book')
  t.equal((await running.inject({ url: `/books/${book.id}` })).json<Book>().title, book.title, 'the running app caches the book')
  const token = await signIn(other, ADMIN.email, ADMIN.password)
  const put = await other.inject({ method: 'PUT', url: `/books/${book.id}`, headers: bearer(token), payload: { ...SAMPLE_BOOK, title: 'Renamed elsewhere' } })
  t.equal(put.statusCode, 200)
  t.equal((await running.inject({ url: `/books/${book.id}` })).json<Book>().title, 'Renamed elsewhere', 'the update, no wait')

  const jsonl = path.join(dir, `import-${files}.jsonl`)
  writeFileSync(jsonl, `${JSON.stringify({ ...SAMPLE_BOOK, title: 'Imported elsewhere' })}\n`)
  t.same(await titles(running, '/books?q=elsewhere'), ['Renamed elsewhere'], 'a search page cached')
  await importFile(other, jsonl)
  t.same(await titles(running, '/books?q=elsewhere'), ['Renamed elsewhere', 'Imported elsewhere'], 'the import, no wait')
})

t.test('over HTTP, the hot reads answered from the running app\'s cache show another app\'s write at once', async (t) => {
  const { running, other } = await onOneFile(t)
  await running.listen({ port: 0, host: '127.0.0.1' })
  const { port } = running.server.address() as { port: number }
  const title = async (url: string): Promise<string | undefined> => (await (await fetch(`http://127.0.0.1:${port}${url}`)).json() as Book).title
  const token = await signIn(other, ADMIN.email, ADMIN.password)
  const { id } = (await other.inject({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })).json<{ id: number }>()
  for (let i = 0; i < 3; i++) t.equal(await title(`/books/${id}`), SAMPLE_BOOK.title, 'read, then answered before Fastify')
  const put = await other.inject({ method: 'PUT', url: `/books/${id}`, headers: bearer(token), payload: { ...SAMPLE_BOOK, title: 'Renamed elsewhere' } })
  t.equal(put.statusCode, 200)
  // The version is asked at most every millisecond: a commit shows to reads that start later.
  await sleep(2)
  t.equal(await title(`/books/${id}`), 'Renamed elsewhere', 'the update, no wait')
  t.equal(await title(`/books/${id}`), 'Renamed elsewhere', 'and hot again')
})

t.test('the running app\'s own writes invalidate as before, and cached pages are hits while nobody writes', async (t) => {
  const { running } = await onOneFile(t)
  t.same(await titles(running, '/books'), [])
  const token = await signIn(running, ADMIN.email, ADMIN.password)
  const created = await running.inject({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })
  t.equal(created.statusCode, 201)
  t.same(await titles(running, '/books'), [SAMPLE_BOOK.title], 'its own new book, at once')

  // Its own commits leave the version as it was: the generation stays, so the cache still serves.
  const before = await running.cache.readGeneration('books', 'probe', 'unused-1', 60)
  await running.stores.books.create({ ...SAMPLE_BOOK, title: 'Straight to the store' })
  const after = await running.cache.readGeneration('books', 'probe', 'unused-2', 60)
  t.equal(after.generation, before.generation, 'no new generation for a write of its own connection')
})

t.test('another app\'s writes leave the running app\'s sign-in throttle counting', async (t) => {
  const { running, other } = await onOneFile(t)
  const wrong = { email: ADMIN.email, password: 'not the password at all' }
  let last = 0
  for (let i = 0; i <= 10; i++) last = (await running.inject({ method: 'POST', url: '/users/sign-in', payload: wrong })).statusCode
  t.equal(last, 429, 'throttled after the failures')

  const token = await signIn(other, ADMIN.email, ADMIN.password)
  const created = await other.inject({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })
  t.equal(created.statusCode, 201)
  t.same(await titles(running, '/books'), [SAMPLE_BOOK.title], 'the running app has seen the write')

  const again = await running.inject({ method: 'POST', url: '/users/sign-in', payload: { email: ADMIN.email, password: ADMIN.password } })
  t.equal(again.statusCode, 429, 'still throttled')
})
