import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import type { KeyValueCache } from '../../src/cache/types'

/**
 * What every KeyValueCache must do, in process or in Redis alike. Keys are unique per run,
 * so the suite can share a Redis with anything else. TTLs are short (1 s) and the checks on
 * remaining time leave room for a slow machine.
 */
export function cacheContract (t: Test, open: () => Promise<KeyValueCache>): void {
  const run = randomUUID()
  const key = (name: string): string => `contract:${run}:${name}:${randomUUID()}`

  t.test('get of an absent key is undefined; set then get round-trips the value', async (t) => {
    const cache = await open()
    const k = key('value')
    t.equal(await cache.get(k), undefined)
    const value = JSON.stringify({ title: 'Ça va — 本', n: [1, 2, 3], quote: '"\'\\' })
    await cache.set(k, value, 60)
    t.equal(await cache.get(k), value)
    await cache.set(k, 'second', 60)
    t.equal(await cache.get(k), 'second', 'set overwrites')
    await cache.set(k, '', 60)
    t.equal(await cache.get(k), '', 'an empty string is a value, not a miss')
    t.equal(await cache.get(key('other')), undefined, 'keys are independent')
  })

  t.test('a value expires after its TTL', async (t) => {
    const cache = await open()
    const k = key('ttl')
    await cache.set(k, 'short-lived', 1)
    t.equal(await cache.get(k), 'short-lived')
    await sleep(1200)
    t.equal(await cache.get(k), undefined)
  })

  t.test('set restarts the TTL', async (t) => {
    const cache = await open()
    const k = key('reset')
    await cache.set(k, 'a', 1)
    await sleep(600)
    await cache.set(k, 'b', 1)
    await sleep(600)
    t.equal(await cache.get(k), 'b', 'alive 1.2 s after the first set, 0.6 s after the second')
  })

  t.test('setIfAbsent stores only where nothing is, once among concurrent callers, and for its TTL', async (t) => {
    const cache = await open()
    const k = key('lease')
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => cache.setIfAbsent(k, `holder-${i}`, 1)))
    t.equal(claims.filter((won) => won).length, 1, 'one caller stores it')
    t.equal(await cache.get(k), `holder-${claims.indexOf(true)}`, 'and its value is the one kept')
    t.equal(await cache.setIfAbsent(k, 'late', 1), false, 'a later caller finds it taken')
    await sleep(1200)
    t.equal(await cache.setIfAbsent(k, 'after', 1), true, 'free again after its TTL')
    await cache.del(k)
    t.equal(await cache.setIfAbsent(k, 'deleted', 1), true, 'and after a delete')
    const v = key('lease-over-value')
    await cache.set(v, 'x', 60)
    t.equal(await cache.setIfAbsent(v, 'y', 60), false, 'a value set by set() counts as present')
    t.equal(await cache.get(v), 'x')
  })

  t.test('peek of an absent counter is count 0 and ttl 0', async (t) => {
    const cache = await open()
    t.same(await cache.peek(key('absent')), { count: 0, ttlMs: 0 })
  })

  t.test('the first incr starts a window; later ones count inside it without extending it', async (t) => {
    const cache = await open()
    const k = key('counter')
    const first = await cache.incr(k, 2)
    t.equal(first.count, 1)
    t.ok(first.ttlMs > 1800 && first.ttlMs <= 2000, `first window ~2000 ms (got ${first.ttlMs})`)
    await sleep(300)
    const second = await cache.incr(k, 2)
    t.equal(second.count, 2)
    t.ok(second.ttlMs > 0 && second.ttlMs <= first.ttlMs - 250, `window not extended (got ${second.ttlMs})`)
    const seen = await cache.peek(k)
    t.equal(seen.count, 2, 'peek reads the count')
    t.ok(seen.ttlMs > 0 && seen.ttlMs <= second.ttlMs, `peek reads the remaining window (got ${seen.ttlMs})`)
    t.equal((await cache.peek(k)).count, 2, 'peek does not count')
  })

  t.test('a window ends after its TTL and the next incr starts a new one', async (t) => {
    const cache = await open()
    const k = key('window')
    await cache.incr(k, 1)
    await cache.incr(k, 1)
    await sleep(1200)
    t.same(await cache.peek(k), { count: 0, ttlMs: 0 }, 'gone after the window')
    const fresh = await cache.incr(k, 1)
    t.equal(fresh.count, 1)
    t.ok(fresh.ttlMs > 800 && fresh.ttlMs <= 1000, `new window (got ${fresh.ttlMs})`)
  })

  t.test('concurrent increments each count once, in one window', async (t) => {
    const cache = await open()
    const k = key('concurrent')
    const results = await Promise.all(Array.from({ length: 25 }, () => cache.incr(k, 60)))
    t.same(results.map((r) => r.count).sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1))
    t.ok(results.every((r) => r.ttlMs > 0 && r.ttlMs <= 60_000), 'every increment reports the window')
    t.equal((await cache.peek(k)).count, 25)
  })

  t.test('del removes a value and a counter; deleting an absent key is fine', async (t) => {
    const cache = await open()
    const v = key('del-value')
    const c = key('del-counter')
    await cache.set(v, 'x', 60)
    await cache.incr(c, 60)
    await cache.del(v)
    await cache.del(c)
    t.equal(await cache.get(v), undefined)
    t.same(await cache.peek(c), { count: 0, ttlMs: 0 })
    t.equal((await cache.incr(c, 60)).count, 1, 'a deleted counter starts again')
    await cache.del(key('never-set'))
  })

  t.test('a generation is created once, read with its entry in one call, and replaced at once', async (t) => {
    const cache = await open()
    const ns = key('books')
    const first = await cache.readGeneration(ns, 'page:1', 'gen-a', 60)
    // In process the generation is the fresh token itself; in Redis, the token behind its stamp.
    t.match(first.generation, /^(\d+\.)?gen-a$/, 'no generation yet: one made of the fresh token is stored')
    t.equal(first.value, undefined)
    t.same(await cache.readGeneration(ns, 'page:1', 'gen-b', 60), first, 'and kept')

    const bytes = Buffer.from(JSON.stringify({ title: 'Ça va — 本', quote: '"\'\\' }))
    await cache.writeGeneration(ns, first.generation, 'page:1', bytes, 60)
    const hit = await cache.readGeneration(ns, 'page:1', 'gen-c', 60)
    t.equal(hit.generation, first.generation)
    t.ok(hit.value?.equals(bytes), 'the bytes come back exactly')
    t.equal((await cache.readGeneration(ns, 'page:2', 'gen-c', 60)).value, undefined, 'entries are per key')

    const stamp = await cache.startGeneration(ns, 'gen-d', 60)
    const next = await cache.readGeneration(ns, 'page:1', 'gen-e', 60)
    t.match(next.generation, /^(\d+\.)?gen-d$/)
    t.equal(next.value, undefined, 'a new generation hides every entry of the old one')
    t.equal(next.stamp, stamp, 'the stamp startGeneration gave is the one reads answer')
    await cache.writeGeneration(ns, first.generation, 'page:1', bytes, 60)
    t.equal((await cache.readGeneration(ns, 'page:1', 'gen-e', 60)).value, undefined, 'even one written late under the old generation')
  })

  t.test('a backend that stamps generations stamps each new one above the one it replaces', async (t) => {
    const cache = await open()
    const ns = key('stamps')
    const first = await cache.readGeneration(ns, 'page:1', 'gen-a', 60)
    if (first.stamp === undefined) {
      t.equal(await cache.startGeneration(ns, 'gen-b', 60), undefined, 'no stamps here (in process nothing can go back)')
      return
    }
    let last = first.stamp
    for (let i = 0; i < 50; i++) {
      const stamp = await cache.startGeneration(ns, `gen-${i}`, 60)
      t.ok(stamp !== undefined && stamp > last, `generation ${i}: ${stamp} > ${last}`)
      last = stamp ?? last
    }
    t.equal((await cache.readGeneration(ns, 'page:1', 'other', 60)).stamp, last)
    const fresh = await cache.readGeneration(key('stamps-other'), 'page:1', 'gen-z', 60)
    t.ok(fresh.stamp !== undefined && fresh.stamp >= first.stamp, 'a namespace made later starts above (the clock moved on)')
  })

  t.test('a generation entry expires after its TTL', async (t) => {
    const cache = await open()
    const ns = key('ttl-books')
    await cache.startGeneration(ns, 'g', 60)
    const { generation } = await cache.readGeneration(ns, 'book:0', 'other', 60)
    await cache.writeGeneration(ns, generation, 'book:1', Buffer.from('x'), 1)
    t.ok((await cache.readGeneration(ns, 'book:1', 'other', 60)).value !== undefined)
    await sleep(1200)
    t.equal((await cache.readGeneration(ns, 'book:1', 'other', 60)).value, undefined)
  })

  t.test('ping answers and the cache has a name', async (t) => {
    const cache = await open()
    await cache.ping()
    t.match(cache.name, /^\w+$/)
  })
}
