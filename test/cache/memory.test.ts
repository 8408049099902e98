import t from 'tap'
import { createMemoryCache } from '../../src/cache/memory'
import { cacheContract } from './cache.contract'

const cache = createMemoryCache()
t.teardown(() => cache.close())

t.test('memory cache contract', async (t) => cacheContract(t, async () => cache))

t.test('stays bounded: the oldest entry goes first when full', async (t) => {
  const small = createMemoryCache({ maxEntries: 2 })
  await small.set('a', '1', 60)
  await small.set('b', '2', 60)
  await small.set('c', '3', 60)
  t.equal(await small.get('a'), undefined)
  t.equal(await small.get('b'), '2')
  t.equal(await small.get('c'), '3')
})
