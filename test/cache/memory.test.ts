import t from 'tap'
import { createMemoryCache } from '../../src/cache/memory'
import { cacheContract } from './cache.contract'

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
