import t from 'tap'
import { covers, parseGtidPos, trackingWrites } from '../../src/stores/mysql/replicas'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'

t.test('GTID positions: per domain, the highest sequence number', async (t) => {
  t.same([...parseGtidPos('0-1-100,1-2-5')], [[0, 100], [1, 5]])
  t.same([...parseGtidPos('')], [], 'no binlog yet: nothing to wait for')
  t.same([...parseGtidPos(null)], [])
  t.ok(covers(parseGtidPos('0-1-100'), parseGtidPos('0-1-100')), 'the same position')
  t.ok(covers(parseGtidPos('0-2-101'), parseGtidPos('0-1-100')), 'a later sequence number from another server (after a failover)')
  t.notOk(covers(parseGtidPos('0-1-99'), parseGtidPos('0-1-100')), 'one transaction short')
  t.notOk(covers(parseGtidPos('0-1-100'), parseGtidPos('0-1-100,1-3-1')), 'a domain it never saw')
  t.ok(covers(parseGtidPos('0-1-100,1-3-1'), parseGtidPos('')), 'anything covers nothing')
})

t.test('the primary tells of each commit that wrote, before the write returns', async (t) => {
  const raw = sqliteDialect(':memory:')
  t.teardown(() => raw.close())
  let told = 0
  const db = trackingWrites(raw, async () => { told++ })
  await db.run('CREATE TABLE x (id INTEGER PRIMARY KEY, v TEXT)')
  t.equal(told, 1, 'a statement outside a transaction')
  await db.get('SELECT COUNT(*) AS n FROM x')
  t.equal(told, 1, 'a read tells nothing')
  await db.transaction(async (tx) => {
    await tx.run('INSERT INTO x (v) VALUES (?)', ['a'])
    await tx.run('INSERT INTO x (v) VALUES (?)', ['b'])
    t.equal(told, 1, 'nothing before the commit')
  })
  t.equal(told, 2, 'one for the committed transaction')
  await db.transaction(async (tx) => tx.all('SELECT * FROM x'))
  t.equal(told, 2, 'a transaction that only read tells nothing')
  await t.rejects(db.transaction(async (tx) => {
    await tx.run('INSERT INTO x (v) VALUES (?)', ['c'])
    throw new Error('rolled back')
  }))
  t.equal(told, 2, 'a rolled-back transaction tells nothing')
})
