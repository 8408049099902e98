import { setTimeout as sleep } from 'node:timers/promises'
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

t.test('peekGeneration answers at once what readGeneration finds, and nothing it would not', async (t) => {
  const cache = createMemoryCache()
  t.teardown(() => cache.close())
  t.equal(cache.peekGeneration?.('books', 'page:1'), undefined, 'no generation yet: nothing')
  const { generation } = await cache.readGeneration('books', 'page:1', 'g1', 60)
  t.equal(cache.peekGeneration?.('books', 'page:1'), undefined, 'a generation, no entry: nothing')
  await cache.writeGeneration('books', generation, 'page:1', Buffer.from('cached'), 60)
  t.equal(cache.peekGeneration?.('books', 'page:1')?.toString(), 'cached')
  t.equal(cache.peekGeneration?.('books', 'page:2'), undefined, 'another key: nothing')
  await cache.startGeneration('books', 'g2', 60)
  t.equal(cache.peekGeneration?.('books', 'page:1'), undefined, 'a new generation: the entry is unreachable')
  await cache.writeGeneration('books', 'g2', 'short', Buffer.from('brief'), 0.02)
  t.equal(cache.peekGeneration?.('books', 'short')?.toString(), 'brief')
  await sleep(40)
  t.equal(cache.peekGeneration?.('books', 'short'), undefined, 'an expired entry: nothing')
  await cache.set('books:plain', 'a plain value', 60)
  t.equal(cache.peekGeneration?.('books', 'plain'), undefined, 'never a plain value')
})
