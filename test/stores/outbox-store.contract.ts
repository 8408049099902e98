import type { Test } from 'tap'
import type { OutboxStore } from '../../src/stores/types'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const MINUTE = 60_000

/**
 * What every OutboxStore must do: the claim is a lease (one claimer per message until it runs
 * out), retryLater postpones and frees, remove forgets. `rival` is a second connection to the
 * same database, as another instance has. Run once per SQL backend (test/stores/outbox.test.ts).
 */
export function outboxStoreContract (t: Test, open: () => Promise<{ outbox: OutboxStore, rival: OutboxStore }>): void {
  const base = Date.now()
  const at = (offsetMs = 0): string => new Date(base + offsetMs).toISOString()
  /** Each test starts from an empty outbox, whatever an earlier one left. */
  async function fresh (): Promise<{ outbox: OutboxStore, rival: OutboxStore }> {
    const stores = await open()
    for (const m of await stores.outbox.claim(at(365 * 24 * 60 * MINUTE), at(366 * 24 * 60 * MINUTE), 10_000)) await stores.outbox.remove(m.id)
    return stores
  }
  const message = (n: number) => ({ user_id: null, to: `reader-${n}@example.com`, subject: `Subject ${n}`, text: `Text ${n}\nToken: t${n}`, html: `<p>${n}</p>` })

  t.test('enqueue, then claim: the whole message, its first attempt, its creation time in UTC', async (t) => {
    const { outbox } = await fresh()
    const id = await outbox.enqueue(message(1), at())
    t.ok(Number.isInteger(id) && id > 0, 'a numeric id')
    const [claimed, ...rest] = await outbox.claim(at(1000), at(MINUTE), 10)
    t.same(rest, [])
    t.same(claimed, { id, ...message(1), attempts: 1, created_at: at() })
    t.match(claimed?.created_at, ISO_UTC)
  })

  t.test('not due before it was enqueued', async (t) => {
    const { outbox } = await fresh()
    await outbox.enqueue(message(2), at(MINUTE))
    t.same(await outbox.claim(at(), at(MINUTE), 10), [])
    t.equal((await outbox.claim(at(MINUTE), at(2 * MINUTE), 10)).length, 1, 'due at its time')
  })

  t.test('a claim is a lease: no one claims it again until it runs out, then anyone does, one attempt more', async (t) => {
    const { outbox, rival } = await fresh()
    const id = await outbox.enqueue(message(3), at())
    t.equal((await outbox.claim(at(), at(MINUTE), 10))[0]?.id, id)
    t.same(await outbox.claim(at(1000), at(MINUTE), 10), [], 'not by the same instance')
    t.same(await rival.claim(at(MINUTE - 1), at(2 * MINUTE), 10), [], 'not by another, a moment before the lease ends')
    const again = await rival.claim(at(MINUTE), at(2 * MINUTE), 10)
    t.match(again, [{ id, attempts: 2 }], 'by another once it has run out (the first sender died)')
  })

  t.test('retryLater frees the claim and postpones the message; remove forgets it', async (t) => {
    const { outbox, rival } = await fresh()
    const id = await outbox.enqueue(message(4), at())
    await outbox.claim(at(), at(MINUTE), 10)
    await outbox.retryLater(id, at(5000), 'ECONNECTION')
    t.same(await rival.claim(at(4999), at(MINUTE), 10), [], 'not before the retry time')
    t.match(await rival.claim(at(5000), at(MINUTE), 10), [{ id, attempts: 2 }], 'at the retry time, though the first lease had not run out')
    await rival.retryLater(id, at(6000), 'x'.repeat(1000))
    t.match(await outbox.claim(at(6000), at(MINUTE), 10), [{ id, attempts: 3 }], 'a long error is cut, not refused')
    await outbox.remove(id)
    t.same(await outbox.claim(at(10 * MINUTE), at(11 * MINUTE), 10), [], 'removed for good')
    await t.resolves(outbox.remove(id), 'removing twice (two senders after a lease ran out) is harmless')
  })

  t.test('claims up to the limit, the longest waiting first', async (t) => {
    const { outbox } = await fresh()
    const ids: number[] = []
    for (let n = 0; n < 5; n++) ids.push(await outbox.enqueue(message(10 + n), at(n)))
    const late = ids[0] ?? 0
    await outbox.claim(at(), at(1), 1)
    await outbox.retryLater(late, at(100), 'E')
    t.same((await outbox.claim(at(200), at(MINUTE), 3)).map((m) => m.id), ids.slice(1, 4), 'by next attempt time, then id')
    t.same((await outbox.claim(at(200), at(MINUTE), 3)).map((m) => m.id), [ids[4], late], 'the rest')
  })

  t.test('two instances claiming at once: every message claimed exactly once', async (t) => {
    const { outbox, rival } = await fresh()
    const ids = new Set<number>()
    for (let n = 0; n < 20; n++) ids.add(await outbox.enqueue(message(100 + n), at()))
    const seen: number[] = []
    const drain = async (store: OutboxStore): Promise<void> => {
      for (;;) {
        const batch = await store.claim(at(1000), at(MINUTE), 1)
        if (batch.length === 0) return
        seen.push(...batch.map((m) => m.id))
      }
    }
    await Promise.all([drain(outbox), drain(rival), drain(outbox), drain(rival)])
    t.equal(seen.length, ids.size, 'no message claimed twice')
    t.same(new Set(seen), ids, 'none left behind')
  })
}
