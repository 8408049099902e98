import pino from 'pino'
import t from 'tap'
import { CacheUnavailableError } from '../../src/cache/breaker'
import { createCacheAside, type CacheAsideOptions, type CacheResult } from '../../src/cache/cache-aside'
import { createMemoryCache } from '../../src/cache/memory'
import type { KeyValueCache } from '../../src/cache/types'

/** A memory cache that records every entry written, with its TTL. */
function recordingCache () {
  const inner = createMemoryCache()
  const writes: Array<{ generation: string, key: string, ttl: number }> = []
  const cache: KeyValueCache = {
    ...inner,
    async writeGeneration (namespace, generation, key, value, ttl) {
      writes.push({ generation, key, ttl })
      await inner.writeGeneration(namespace, generation, key, value, ttl)
    }
  }
  return { cache, writes }
}

function recordingLog () {
  const lines: Array<{ level: number, msg: string }> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  return { log, lines }
}

function aside (cache: KeyValueCache, options: Partial<CacheAsideOptions<string>> = {}) {
  const results: CacheResult[] = []
  const { log, lines } = recordingLog()
  const helper = createCacheAside<string>({
    cache,
    namespace: 'things',
    ttlSeconds: 60,
    encode: (value) => Buffer.from(value),
    decode: (stored) => stored.toString(),
    log,
    label: 'thing cache',
    instead: 'using the store',
    onResult: (result) => { results.push(result) },
    ...options
  })
  return { helper, results, lines }
}

/** A loader that counts its calls and answers `value`. */
function loader (value: string | undefined) {
  const load = async (): Promise<string | undefined> => {
    load.calls++
    return value
  }
  load.calls = 0
  return load
}

t.test('a miss loads and fills; the next read is a hit that never calls the loader', async (t) => {
  const { cache, writes } = recordingCache()
  const { helper, results } = aside(cache)
  const load = loader('one')
  t.equal(await helper.get('k', load), 'one')
  t.equal(writes.length, 1, 'the loaded value was stored')
  t.equal(await helper.get('k', load), 'one')
  t.equal(load.calls, 1, 'the second read came from the cache')
  t.same(results, ['miss', 'hit'])
})

t.test('nothing found is not cached', async (t) => {
  const { cache, writes } = recordingCache()
  const { helper } = aside(cache)
  const load = loader(undefined)
  t.equal(await helper.get('k', load), undefined)
  t.equal(await helper.get('k', load), undefined)
  t.equal(load.calls, 2)
  t.equal(writes.length, 0)
})

t.test('an entry the decoder refuses is a miss, and the loader answers', async (t) => {
  const { cache } = recordingCache()
  const { helper, results } = aside(cache, { decode: () => undefined })
  const load = loader('fresh')
  await helper.get('k', load)
  t.equal(await helper.get('k', load), 'fresh')
  t.equal(load.calls, 2)
  t.same(results, ['miss', 'miss'])
})

t.test('the TTL counts from before the load, and never passes what the value allows', async (t) => {
  const realNow = Date.now
  let clock = realNow()
  Date.now = () => clock
  t.teardown(() => { Date.now = realNow })

  const { cache, writes } = recordingCache()
  const { helper } = aside(cache, { ttlSeconds: 10 })
  await helper.get('slow', async () => { clock += 4000; return 'v' })
  t.equal(writes[0]?.ttl, 6, 'a load of 4 s leaves 6 of 10 s')

  await helper.get('too-slow', async () => { clock += 11_000; return 'v' })
  t.equal(writes.length, 1, 'a load longer than the TTL stores nothing')

  const short = aside(cache, { ttlSeconds: 10, maxTtlSeconds: (value) => value === 'ending' ? 3 : 0 })
  await short.helper.get('ending', async () => 'ending')
  t.equal(writes[1]?.ttl, 3, 'the value\'s own limit wins when shorter')
  await short.helper.get('ended', async () => 'ended')
  t.equal(writes.length, 2, 'a value that may not live is not stored')
})

t.test('invalidation makes every entry unreachable, including one a racing load stores after it', async (t) => {
  const { cache, writes } = recordingCache()
  const { helper } = aside(cache)
  await helper.get('k', loader('old'))
  t.equal(await helper.invalidate(), true)
  t.equal(await helper.get('k', loader('new')), 'new', 'the old entry is gone')

  // A load that read the store before an invalidation and stores after it.
  const racing = helper.get('r', async () => {
    await helper.invalidate()
    return 'stale'
  })
  t.equal(await racing, 'stale')
  const stored = writes[writes.length - 1]
  t.equal(stored?.key, 'r')
  t.equal(await helper.get('r', loader('current')), 'current', 'stored under the generation it read, where no one reads')
})

t.test('a failing cache falls back to the loader and logs; an open circuit logs at debug', async (t) => {
  const broken = async (): Promise<never> => { throw new Error('cache down') }
  const failing: KeyValueCache = { ...createMemoryCache(), readGeneration: broken, writeGeneration: broken, startGeneration: broken }
  const { helper, results, lines } = aside(failing)
  const load = loader('from the store')
  t.equal(await helper.get('k', load), 'from the store')
  t.equal(load.calls, 1)
  t.same(results, ['error'])
  t.equal(await helper.invalidate(), false, 'a failed invalidation says so')
  t.same(lines.map((l) => [l.level, l.msg]), [
    [40, 'thing cache read failed; using the store'],
    [40, 'thing cache invalidate failed; using the store']
  ])

  const refusing = async (): Promise<never> => { throw new CacheUnavailableError('circuit open') }
  const open = aside({ ...createMemoryCache(), readGeneration: refusing })
  t.equal(await open.helper.get('k', loader('v')), 'v')
  t.same(open.lines.map((l) => [l.level, l.msg]), [[20, 'thing cache read skipped; using the store']])
})

t.test('with a timeout, a cache that does not answer is abandoned for the loader', async (t) => {
  const hanging: KeyValueCache = { ...createMemoryCache(), readGeneration: () => new Promise(() => {}) }
  const { helper, lines } = aside(hanging, { timeoutMs: 20 })
  t.equal(await helper.get('k', loader('v')), 'v')
  t.match(lines, [{ level: 40, msg: 'thing cache read failed; using the store' }])
})
