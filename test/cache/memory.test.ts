import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createMemoryCache } from '../../src/cache/memory'
import { cacheContract } from './cache.contract'
import { collectGarbage } from '../support/gc'

const cache = createMemoryCache()
t.teardown(() => cache.close())

t.test('memory cache contract', async (t) => cacheContract(t, async () => cache))

t.test('entries stay within their byte budget: the least recently used go first', async (t) => {
  const small = createMemoryCache({ maxBytes: 10_000 })
  const kib = Buffer.alloc(1024, 'x')
  for (let i = 0; i < 30; i++) await small.writeGeneration('books', 'g', `page:${i}`, kib, 60)
  const kept = []
  for (let i = 0; i < 30; i++) if ((await small.readGeneration('books', `page:${i}`, 'g', 60)).value !== undefined) kept.push(i)
  t.ok(kept.length > 0 && kept.length <= 9, `at most 9 KiB entries kept in 10,000 bytes (kept ${kept.length})`)
  t.ok(kept.includes(29) && !kept.includes(0), 'the newest stay, the oldest went')
})

t.test('a flood of cached pages, or of leases on missed ones, never evicts a sign-in counter or the generation', async (t) => {
  const small = createMemoryCache({ maxBytes: 4096, maxCounters: 10 })
  await small.incr('signin-failures:x', 60)
  await small.startGeneration('books', 'g1', 60)
  for (let i = 0; i < 1000; i++) await small.writeGeneration('books', 'g1', `page:${i}`, Buffer.alloc(512), 60)
  for (let i = 0; i < 1000; i++) await small.setIfAbsent(`lease:books:g1:page:${i}`, '1', 60)
  t.equal((await small.peek('signin-failures:x')).count, 1)
  t.equal((await small.readGeneration('books', 'page:0', 'fresh', 60)).generation, 'g1')
})

/** A look-up made once and called again and again, as a hot read calls it. */
const lookUp = (cache: ReturnType<typeof createMemoryCache>, key: string): () => string | undefined => {
  const look = cache.peekGeneration?.('books', key)
  if (look === undefined) throw new Error('the memory cache peeks')
  return () => look()?.toString()
}

t.test('a look-up answers at once what readGeneration finds, and nothing it would not', async (t) => {
  const cache = createMemoryCache()
  t.teardown(() => cache.close())
  const page1 = lookUp(cache, 'page:1')
  const page2 = lookUp(cache, 'page:2')
  const short = lookUp(cache, 'short')
  const plain = lookUp(cache, 'plain')
  t.equal(page1(), undefined, 'no generation yet: nothing')
  const { generation } = await cache.readGeneration('books', 'page:1', 'g1', 60)
  t.equal(page1(), undefined, 'a generation, no entry: nothing')
  await cache.writeGeneration('books', generation, 'page:1', Buffer.from('cached'), 60)
  t.equal(page1(), 'cached')
  t.equal(page1(), 'cached', 'again')
  t.equal(page2(), undefined, 'another key: nothing')
  await cache.writeGeneration('books', generation, 'page:1', Buffer.from('replaced'), 60)
  t.equal(page1(), 'replaced', 'an entry stored again: the new one')
  await cache.startGeneration('books', 'g2', 60)
  t.equal(page1(), undefined, 'a new generation: the entry is unreachable')
  await cache.writeGeneration('books', 'g2', 'page:1', Buffer.from('in g2'), 60)
  t.equal(page1(), 'in g2', "the new generation's entry")
  await cache.del('books:g2:page:1')
  t.equal(page1(), undefined, 'a deleted entry: nothing')
  await cache.writeGeneration('books', 'g2', 'short', Buffer.from('brief'), 0.02)
  t.equal(short(), 'brief')
  await sleep(40)
  t.equal(short(), undefined, 'an expired entry: nothing, though nothing else changed')
  await cache.set('books:g2:plain', 'a plain value', 60)
  t.equal(plain(), undefined, 'never a plain value')
})

t.test("a look-up answers nothing once the generation's own TTL has run out", async (t) => {
  const cache = createMemoryCache()
  t.teardown(() => cache.close())
  const page = lookUp(cache, 'page:1')
  const { generation } = await cache.readGeneration('books', 'page:1', 'g1', 0.03)
  await cache.writeGeneration('books', generation, 'page:1', Buffer.from('cached'), 60)
  t.equal(page(), 'cached')
  await sleep(50)
  t.equal(page(), undefined, 'readGeneration would start a new generation, with no entry')
  t.not((await cache.readGeneration('books', 'page:1', 'g2', 60)).value?.toString(), 'cached')
})

t.test('a look-up answers nothing once its entry is evicted, and keeps what it reads most from eviction', async (t) => {
  const small = createMemoryCache({ maxBytes: 4000, touchEveryMs: 50 })
  t.teardown(() => small.close())
  const kib = Buffer.alloc(1000, 'x')
  await small.startGeneration('books', 'g', 60)
  await small.writeGeneration('books', 'g', 'hot', kib, 60)
  await small.writeGeneration('books', 'g', 'cold', kib, 60)
  const hot = lookUp(small, 'hot')
  t.ok(hot() !== undefined)
  // The cold entry is read once after it, by readGeneration: for now it is the more recent.
  t.ok((await small.readGeneration('books', 'cold', 'x', 60)).value !== undefined)
  // Then the hot one is read only through the look-up, longer than it answers from memory.
  let missing = 0
  for (const until = Date.now() + 250; Date.now() < until; await sleep(5)) if (hot() === undefined) missing++
  t.equal(missing, 0, 'the hot entry answered throughout')
  // One more entry: the least recently used must go, and that is the cold one.
  await small.writeGeneration('books', 'g', 'newer', kib, 60)
  await small.writeGeneration('books', 'g', 'newest', kib, 60)
  t.equal((await small.readGeneration('books', 'cold', 'x', 60)).value, undefined, 'the cold entry was evicted')
  t.ok(hot() !== undefined, 'the hot one stays')
  for (let i = 0; i < 4; i++) await small.writeGeneration('books', 'g', `flood:${i}`, kib, 60)
  t.equal(hot(), undefined, 'evicted by a flood: the look-up answers nothing at once')
})

t.test('a look-up never keeps an entry the LRU has let go: the byte budget holds', async (t) => {
  const small = createMemoryCache({ maxBytes: 4000 })
  t.teardown(() => small.close())
  await small.startGeneration('books', 'g', 60)
  const probe = await (async () => {
    const stored = Buffer.alloc(1000, 'x')
    await small.writeGeneration('books', 'g', 'hot', stored, 60)
    return new WeakRef(stored)
  })()
  const hot = lookUp(small, 'hot')
  t.equal(hot()?.length, 1000, 'read, and remembered')
  for (let i = 0; i < 8; i++) await small.writeGeneration('books', 'g', `flood:${i}`, Buffer.alloc(1000), 60)
  await collectGarbage()
  t.equal(probe.deref(), undefined, 'evicted, and gone from memory though the look-up lives')
  t.equal(hot(), undefined)
})
