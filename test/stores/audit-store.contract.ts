import type { Test } from 'tap'
import type { AuditEntry, AuditEventType } from '../../src/schemas/audit'
import type { SqlDialect } from '../../src/stores/sql/dialect'
import type { SqlStores } from '../../src/stores/sql'

/** A migrated database of the test's own (verify judges the whole log), and what writes it. */
export interface AuditFixture {
  stores: SqlStores
  /** The raw database, for tampering as someone with direct access would. */
  db: SqlDialect
  /** More instances on the same database, each with its own connections (one where the backend has no other). */
  others: (count: number) => Promise<SqlStores[]>
}

const entry = (type: AuditEventType = 'user.signed_in', overrides: Partial<AuditEntry> = {}): AuditEntry => ({
  type, user_id: 7, actor_id: 7, ip: '192.0.2.1', request_id: 'req-1', details: { method: 'password' }, ...overrides
})
const now = (): string => new Date().toISOString()

/** What the SQL audit store must do. Run once per SQL dialect, each test on a fresh database. */
export function auditStoreContract (t: Test, open: (t: Test) => Promise<AuditFixture>): void {
  t.test('an empty log is valid; appends get consecutive ids and read back exactly', async (t) => {
    const { stores } = await open(t)
    t.same(await stores.audit.verify(), { events: 0, valid: true })
    const at = '2024-03-08T15:49:35.989Z'
    const first = await stores.audit.append(entry('user.signed_in', { details: { method: 'password', n: 1, ok: true, none: null } }), at)
    t.same(first, { id: 1, at, ...entry('user.signed_in', { details: { method: 'password', n: 1, ok: true, none: null } }) })
    const second = await stores.audit.append(entry('book.created', { user_id: null, details: { book_id: 3 } }), now())
    t.equal(second.id, 2)
    t.same(await stores.audit.list({ limit: 10 }), [second, first], 'newest first, as appended')
    t.same(await stores.audit.verify(), { events: 2, valid: true })
  })

  t.test('a time without milliseconds is stored, answered and hashed as it reads back', async (t) => {
    const { stores } = await open(t)
    const event = await stores.audit.append(entry(), '2024-03-08T15:49:35Z')
    t.equal(event.at, '2024-03-08T15:49:35.000Z')
    t.same(await stores.audit.list({ limit: 1 }), [event])
    t.same(await stores.audit.verify(), { events: 1, valid: true })
  })

  t.test('the chain holds over many appends, sequential and concurrent', async (t) => {
    const { stores } = await open(t)
    for (let i = 0; i < 30; i++) await stores.audit.append(entry('user.signed_in', { request_id: `seq-${i}` }), now())
    await Promise.all(Array.from({ length: 40 }, (_, i) => stores.audit.append(entry('user.sign_in_failed', { request_id: `par-${i}` }), now())))
    t.same(await stores.audit.verify(), { events: 70, valid: true })
    const ids = (await stores.audit.list({ limit: 100 })).map((e) => e.id)
    t.same(ids, Array.from({ length: 70 }, (_, i) => 70 - i), 'ids 1..70, none skipped or doubled')
  })

  t.test('appends from several instances at once, some inside transactions that read first: one chain, no fork', async (t) => {
    const { stores, others } = await open(t)
    const instances = [stores, ...await others(2)]
    // A transaction that has read the head before appending would, under a snapshot read,
    // chain onto a stale head: the store must work from the latest committed one.
    await stores.audit.append(entry(), now())
    const rounds = 15
    await Promise.all(instances.flatMap((instance, n) => Array.from({ length: rounds }, async (_, i) => {
      if (i % 2 === 0) return instance.audit.append(entry('book.updated', { request_id: `i${n}-${i}`, details: { book_id: i } }), now())
      return instance.atomic(async (s) => {
        await s.audit.list({ limit: 1 })
        await s.audit.verify()
        return s.audit.append(entry('book.deleted', { request_id: `i${n}-${i}`, details: { book_id: i } }), now())
      })
    })))
    const total = 1 + instances.length * rounds
    t.same(await stores.audit.verify(), { events: total, valid: true })
    const events = await stores.audit.list({ limit: 100 })
    t.same(events.map((e) => e.id), Array.from({ length: total }, (_, i) => total - i), 'consecutive ids')
    t.equal(new Set(events.map((e) => e.request_id)).size, total, 'every append landed once')
    const heads = await stores.audit.verify()
    t.same(heads, { events: total, valid: true })
  })

  t.test('an append inside a transaction that fails leaves no event and no gap', async (t) => {
    const { stores } = await open(t)
    await stores.audit.append(entry(), now())
    await t.rejects(stores.atomic(async (s) => {
      await s.audit.append(entry('book.created', { details: { book_id: 1 } }), now())
      throw new Error('the change failed')
    }), /the change failed/)
    const next = await stores.audit.append(entry(), now())
    t.equal(next.id, 2, 'the rolled-back id is handed out again')
    t.same(await stores.audit.verify(), { events: 2, valid: true })
  })

  t.test('lists filter by user and type, newest first, and page by `before`', async (t) => {
    const { stores } = await open(t)
    const types: AuditEventType[] = ['user.signed_in', 'user.sign_in_failed', 'book.created']
    for (let i = 0; i < 12; i++) {
      await stores.audit.append(entry(types[i % 3], { user_id: i % 2 === 0 ? 1 : 2, request_id: `r${i + 1}` }), now())
    }
    const ids = async (filter: Parameters<SqlStores['audit']['list']>[0]) => (await stores.audit.list(filter)).map((e) => e.id)
    t.same(await ids({ limit: 5 }), [12, 11, 10, 9, 8])
    t.same(await ids({ limit: 5, before: 8 }), [7, 6, 5, 4, 3], 'before: only smaller ids')
    t.same(await ids({ limit: 5, before: 3 }), [2, 1])
    t.same(await ids({ limit: 5, before: 1 }), [])
    t.same(await ids({ limit: 100, user_id: 2 }), [12, 10, 8, 6, 4, 2])
    t.same(await ids({ limit: 100, type: 'book.created' }), [12, 9, 6, 3])
    t.same(await ids({ limit: 100, type: 'book.created', user_id: 1 }), [9, 3], 'both filters at once')
    t.same(await ids({ limit: 2, type: 'user.signed_in', before: 7 }), [4, 1], 'a filter and a cursor')
    t.same(await ids({ limit: 10, user_id: 99 }), [])
    t.same(await ids({ limit: 10, type: 'user.deleted' }), [])
  })

  /** A log of five valid events, to tamper with. */
  async function fiveEvents (t: Test): Promise<AuditFixture> {
    const fixture = await open(t)
    for (let i = 1; i <= 5; i++) await fixture.stores.audit.append(entry('book.updated', { details: { book_id: i } }), now())
    t.same(await fixture.stores.audit.verify(), { events: 5, valid: true })
    return fixture
  }

  t.test('verify: an altered event is itself the first invalid one', async (t) => {
    const cases: Array<[string, string, Array<string | number>]> = [
      ['details', 'UPDATE audit_events SET details = ? WHERE id = ?', ['{"book_id":99}', 3]],
      ['user', 'UPDATE audit_events SET user_id = ? WHERE id = ?', [8, 3]],
      ['actor set to null', 'UPDATE audit_events SET actor_id = NULL WHERE id = ?', [3]],
      ['type', 'UPDATE audit_events SET type = ? WHERE id = ?', ['book.created', 3]],
      ['ip', 'UPDATE audit_events SET ip = ? WHERE id = ?', ['198.51.100.7', 3]],
      ['request id', 'UPDATE audit_events SET request_id = ? WHERE id = ?', ['forged', 3]],
      ['details that are not JSON', 'UPDATE audit_events SET details = ? WHERE id = ?', ['{', 3]],
      ['its hash, rewritten', 'UPDATE audit_events SET hash = ? WHERE id = ?', ['0'.repeat(64), 3]]
    ]
    for (const [what, sql, params] of cases) {
      t.test(what, async (t) => {
        const { stores, db } = await fiveEvents(t)
        await db.run(sql, params)
        t.same(await stores.audit.verify(), { events: 5, valid: false, first_invalid_id: 3 })
      })
    }
    t.test('the time', async (t) => {
      const { stores, db } = await fiveEvents(t)
      await db.run('UPDATE audit_events SET at = ? WHERE id = ?', [db.toDbTime('2001-01-01T00:00:00.000Z'), 3])
      t.same(await stores.audit.verify(), { events: 5, valid: false, first_invalid_id: 3 })
    })
    t.test('the first event', async (t) => {
      const { stores, db } = await fiveEvents(t)
      await db.run('UPDATE audit_events SET details = ? WHERE id = ?', ['{"book_id":42}', 1])
      t.same(await stores.audit.verify(), { events: 5, valid: false, first_invalid_id: 1 })
    })
  })

  t.test('verify: a removed event in the middle breaks the chain at its successor', async (t) => {
    const { stores, db } = await fiveEvents(t)
    await db.run('DELETE FROM audit_events WHERE id = ?', [3])
    t.same(await stores.audit.verify(), { events: 4, valid: false, first_invalid_id: 4 })
  })

  t.test('verify: a removed event renumbered to close the gap is still found', async (t) => {
    const { stores, db } = await fiveEvents(t)
    await db.run('DELETE FROM audit_events WHERE id = ?', [3])
    await db.run('UPDATE audit_events SET id = 3 WHERE id = 4')
    await db.run('UPDATE audit_events SET id = 4 WHERE id = 5')
    t.same(await stores.audit.verify(), { events: 4, valid: false, first_invalid_id: 3 })
  })

  t.test('verify: the newest event removed is named by the head', async (t) => {
    const { stores, db } = await fiveEvents(t)
    await db.run('DELETE FROM audit_events WHERE id = ?', [5])
    t.same(await stores.audit.verify(), { events: 4, valid: false, first_invalid_id: 5 })
  })

  t.test('verify: the newest events removed and the head rolled back to a real earlier state are the one loss the chain cannot see', async (t) => {
    // Documented limit: whoever can rewrite both tables can truncate the log consistently.
    const { stores, db } = await fiveEvents(t)
    const fourth = await db.get<{ hash: string }>('SELECT hash FROM audit_events WHERE id = 4')
    await db.run('DELETE FROM audit_events WHERE id = 5')
    await db.run('UPDATE audit_head SET last_id = 4, last_hash = ? WHERE id = 1', [fourth?.hash ?? ''])
    t.same(await stores.audit.verify(), { events: 4, valid: true })
  })

  t.test('verify: an event inserted out of the chain', async (t) => {
    t.test('after the newest, without going through the head', async (t) => {
      const { stores, db } = await fiveEvents(t)
      const last = await db.get<{ hash: string }>('SELECT hash FROM audit_events WHERE id = 5')
      await db.run(`INSERT INTO audit_events (id, type, at, user_id, actor_id, ip, request_id, details, prev_hash, hash)
        VALUES (6, 'book.deleted', ?, NULL, 1, '192.0.2.9', 'forged', '{"book_id":1}', ?, ?)`, [db.toDbTime(now()), last?.hash ?? '', 'f'.repeat(64)])
      t.same(await stores.audit.verify(), { events: 6, valid: false, first_invalid_id: 6 })
    })
    t.test('far past the newest', async (t) => {
      const { stores, db } = await fiveEvents(t)
      await db.run(`INSERT INTO audit_events (id, type, at, user_id, actor_id, ip, request_id, details, prev_hash, hash)
        VALUES (100, 'book.deleted', ?, NULL, 1, '192.0.2.9', 'forged', '{}', '', '')`, [db.toDbTime(now())])
      t.same(await stores.audit.verify(), { events: 6, valid: false, first_invalid_id: 100 })
    })
    t.test('in the middle, in place of a removed one, with its head moved on', async (t) => {
      const { stores, db } = await fiveEvents(t)
      const second = await db.get<{ hash: string }>('SELECT hash FROM audit_events WHERE id = 2')
      await db.run('DELETE FROM audit_events WHERE id = 3')
      await db.run(`INSERT INTO audit_events (id, type, at, user_id, actor_id, ip, request_id, details, prev_hash, hash)
        VALUES (3, 'book.deleted', ?, NULL, 1, '192.0.2.9', 'forged', '{}', ?, ?)`, [db.toDbTime(now()), second?.hash ?? '', 'e'.repeat(64)])
      t.same(await stores.audit.verify(), { events: 5, valid: false, first_invalid_id: 3 })
    })
  })

  t.test('verify walks more events than one batch', async (t) => {
    const { stores, db } = await open(t)
    for (let i = 0; i < 1100; i++) await stores.audit.append(entry('user.sign_in_failed', { request_id: `r${i}` }), now())
    t.same(await stores.audit.verify(), { events: 1100, valid: true })
    await db.run('UPDATE audit_events SET ip = ? WHERE id = ?', ['203.0.113.1', 1050])
    t.same(await stores.audit.verify(), { events: 1100, valid: false, first_invalid_id: 1050 })
  })
}
