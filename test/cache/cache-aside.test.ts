import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import t from 'tap'
import { CacheUnavailableError } from '../../src/cache/breaker'
import { createCacheAside, type CacheAsideOptions, type CacheResult } from '../../src/cache/cache-aside'
import { createMemoryCache } from '../../src/cache/memory'
import { leaseKey, type KeyValueCache } from '../../src/cache/types'
import { collectGarbage } from '../support/gc'

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

/** A loader that counts its calls and answers `value` after `ms`. */
function slowLoader (value: string | undefined, ms = 20) {
  const load = async (): Promise<string | undefined> => {
    load.calls++
    await sleep(ms)
    return value
  }
  load.calls = 0
  return load
}

const herd = <R>(n: number, get: () => Promise<R>): Promise<R[]> => Promise.all(Array.from({ length: n }, get))

t.test('200 concurrent misses of one key share one load; after an invalidation, again one', async (t) => {
  const { cache, writes } = recordingCache()
  const { helper, results } = aside(cache)
  const first = slowLoader('one')
  t.same(new Set(await herd(200, () => helper.get('k', first))), new Set(['one']), 'every reader gets the value')
  t.equal(first.calls, 1, 'one load for 200 readers')
  t.equal(writes.length, 1, 'one entry stored')
  t.equal(results.length, 200)

  t.equal(await helper.invalidate(), true)
  const second = slowLoader('two')
  t.same(new Set(await herd(200, () => helper.get('k', second))), new Set(['two']))
  t.equal(second.calls, 1, 'one load after the invalidation made the key cold')

  const other = slowLoader('other')
  await Promise.all([helper.get('a', other), helper.get('b', other)])
  t.equal(other.calls, 2, 'different keys do not share a load')
})

t.test('while the cache fails, a crowd on one key costs two loads, and no reader gets a load begun before it arrived', async (t) => {
  const broken = async (): Promise<never> => { throw new Error('cache down') }
  const { helper, results } = aside({ ...createMemoryCache(), readGeneration: broken, writeGeneration: broken, startGeneration: broken })
  // The store's row: what a load reads when it begins.
  let row = 'before the write'
  const load = async (): Promise<string> => {
    load.calls++
    const read = row
    await sleep(20)
    return read
  }
  load.calls = 0
  const first = helper.get('k', load)
  await sleep(5)
  // A write lands while the first load is under way: every reader from here on must see it.
  row = 'after the write'
  const crowd = await herd(199, () => helper.get('k', load))
  t.equal(await first, 'before the write', 'the first reader has its own load')
  t.same(new Set(crowd), new Set(['after the write']), 'the later readers share one load begun after they arrived')
  t.equal(load.calls, 2, 'two loads for 200 readers')
  t.equal(results.filter((r) => r === 'error').length, 200)

  const other = slowLoader('other')
  await Promise.all([helper.get('a', other), helper.get('b', other)])
  t.equal(other.calls, 2, 'different keys do not share a load')
  t.equal(await helper.get('k', load), 'after the write', 'once the crowd is answered, a reader loads at once')
  t.equal(load.calls, 3)
})

t.test('while the cache fails, a failed load rejects only the readers that shared it', async (t) => {
  const broken = async (): Promise<never> => { throw new Error('cache down') }
  const { helper } = aside({ ...createMemoryCache(), readGeneration: broken })
  let fail = true
  const load = async (): Promise<string> => {
    await sleep(10)
    if (fail) throw new Error('store down')
    return 'v'
  }
  const first = helper.get('k', load)
  await sleep(2)
  const second = helper.get('k', load)
  await t.rejects(first, /store down/)
  fail = false
  t.equal(await second, 'v', 'the next load is its own, and succeeds')
})

t.test('a load begun under an older generation is not handed to a reader of the newer one', async (t) => {
  const { cache } = recordingCache()
  const { helper } = aside(cache)
  const old = helper.get('k', slowLoader('old', 30))
  await sleep(5)
  await helper.invalidate()
  const fresh = slowLoader('new')
  t.equal(await helper.get('k', fresh), 'new', 'the newer reader loads for itself')
  t.equal(fresh.calls, 1)
  t.equal(await old, 'old', 'the older reader keeps its own load')
})

t.test('a failing load rejects the readers of that flight only, is not kept, and the next read loads again', async (t) => {
  const { cache, writes } = recordingCache()
  const { helper } = aside(cache)
  let calls = 0
  const failing = async (): Promise<string> => {
    calls++
    await sleep(10)
    throw new Error('store down')
  }
  const settled = await Promise.allSettled(Array.from({ length: 50 }, () => helper.get('k', failing)))
  t.equal(calls, 1, 'one load for the flight')
  t.ok(settled.every((s) => s.status === 'rejected' && (s.reason as Error).message === 'store down'), 'every reader of it gets its error')
  t.equal(writes.length, 0)
  const next = loader('back')
  t.equal(await helper.get('k', next), 'back', 'the error was not kept')
  t.equal(next.calls, 1)
})

t.test('a hit asks the cache nothing but the read', async (t) => {
  const inner = createMemoryCache()
  const calls: string[] = []
  const counting: KeyValueCache = {
    ...inner,
    readGeneration: async (...a) => { calls.push('read'); return await inner.readGeneration(...a) },
    setIfAbsent: async (...a) => { calls.push('lease'); return await inner.setIfAbsent(...a) }
  }
  const { helper } = aside(counting)
  await helper.get('k', loader('v'))
  t.same(calls, ['read', 'lease'], 'a miss takes the lease')
  calls.length = 0
  await herd(10, () => helper.get('k', loader('v')))
  t.same(calls, Array(10).fill('read'), 'hits read only')
})

t.test('peek makes a look-up that answers a cached value at once, counted as get counts a hit, and nothing else', async (t) => {
  let decoded = 0
  const { helper, results } = aside(createMemoryCache(), { decode: (stored) => { decoded++; return stored.toString() } })
  // Made once, before anything is cached, and called again and again, as a hot read calls it.
  const peek = helper.peek('k')
  if (peek === undefined) throw new Error('the memory cache peeks')
  t.equal(peek(), undefined, 'not cached: nothing, and nothing counted (get counts the miss)')
  t.same(results, [])
  await helper.get('k', loader('v'))
  results.length = 0
  decoded = 0
  t.equal(peek(), 'v')
  t.equal(peek(), 'v')
  t.same(results, ['hit', 'hit'])
  t.equal(decoded, 1, 'one entry, decoded once')
  await helper.invalidate()
  t.equal(peek(), undefined, 'after an invalidation: nothing')
  await helper.get('k', loader('w'))
  t.equal(peek(), 'w', 'the entry stored after it, decoded anew')

  const refusing = aside(createMemoryCache(), { decode: () => undefined })
  await refusing.helper.get('k', loader('v'))
  refusing.results.length = 0
  t.equal(refusing.helper.peek('k')?.(), undefined, 'an entry the decoder refuses: nothing, and no hit')
  t.same(refusing.results, [])

  const { peekGeneration: _none, ...remote } = createMemoryCache()
  const across = aside(remote)
  await across.helper.get('k', loader('v'))
  t.equal(across.helper.peek('k'), undefined, 'a cache that cannot answer at once: no look-up, get reads')
})

t.test("a look-up never keeps a decoded value past its entry's life in the cache", async (t) => {
  const helper = createCacheAside<{ text: string }>({
    cache: createMemoryCache({ maxBytes: 4000 }),
    namespace: 'things',
    ttlSeconds: 60,
    encode: (value) => Buffer.from(value.text),
    decode: (stored) => ({ text: stored.toString() }),
    log: pino({ level: 'silent' }),
    label: 'thing cache',
    instead: 'using the store'
  })
  const peek = helper.peek('k')
  if (peek === undefined) throw new Error('the memory cache peeks')
  await helper.get('k', async () => ({ text: 'v'.repeat(1000) }))
  const probe = new WeakRef(peek() ?? {})
  t.equal((probe.deref() as { text?: string } | undefined)?.text?.length, 1000, 'decoded, and remembered')
  for (let i = 0; i < 8; i++) await helper.get(`flood:${i}`, async () => ({ text: 'w'.repeat(1000) }))
  await collectGarbage()
  t.equal(probe.deref(), undefined, 'the entry evicted: its decoded value is gone from memory though the look-up lives')
  t.equal(peek(), undefined)
})

t.test('two instances on one cache: the lease makes one load across both', async (t) => {
  const shared = createMemoryCache()
  const a = aside(shared)
  const b = aside(shared)
  const load = slowLoader('shared', 30)
  const answers = await Promise.all([
    herd(100, () => a.helper.get('k', load)),
    herd(100, () => b.helper.get('k', load))
  ])
  t.same(new Set(answers.flat()), new Set(['shared']), 'all 200 get the value')
  t.equal(load.calls, 1, 'one load in all')

  // After an invalidation by either, again one in all.
  await b.helper.invalidate()
  const again = slowLoader('again', 30)
  await Promise.all([herd(100, () => a.helper.get('k', again)), herd(100, () => b.helper.get('k', again))])
  t.equal(again.calls, 1)
})

t.test('a lease whose holder stored nothing is freed: the other instance loads at once', async (t) => {
  const shared = createMemoryCache()
  const a = aside(shared, { leaseMs: 5000 })
  const b = aside(shared, { leaseMs: 5000 })
  const load = slowLoader(undefined, 30)
  const started = Date.now()
  await Promise.all([a.helper.get('absent', load), sleep(5).then(() => b.helper.get('absent', load))])
  t.equal(load.calls, 2, 'nothing found is not cached: each instance loads')
  t.ok(Date.now() - started < 1000, `the second did not wait out the lease (${Date.now() - started} ms)`)
})

t.test('a lease never filled holds a reader no longer than the lease, then it loads', async (t) => {
  const shared = createMemoryCache()
  const { helper } = aside(shared, { leaseMs: 60 })
  // Another instance's lease on the key under the current generation, never filled.
  const { generation } = await shared.readGeneration('things', 'k', 'g', 60)
  t.equal(await shared.setIfAbsent(leaseKey('things', generation, 'k'), '1', 60), true)
  const load = loader('mine')
  const started = Date.now()
  t.equal(await helper.get('k', load), 'mine')
  const waited = Date.now() - started
  t.equal(load.calls, 1)
  t.ok(waited >= 50 && waited < 1000, `waited about the lease (${waited} ms)`)
})

t.test('a lease the cache cannot take is a failing cache: load at once, logged', async (t) => {
  const failing: KeyValueCache = { ...createMemoryCache(), setIfAbsent: async () => { throw new Error('cache down') } }
  const { helper, lines } = aside(failing)
  const load = loader('v')
  t.same(await herd(5, () => helper.get('k', load)), Array(5).fill('v'))
  t.equal(load.calls, 1, 'still one load in this instance')
  t.same(lines.map((l) => [l.level, l.msg]), [[40, 'thing cache lease failed; using the store']])
})
