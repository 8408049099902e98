import pino from 'pino'
import t from 'tap'
import { createMemoryCache } from '../../src/cache/memory'
import { createBookService } from '../../src/services/books'
import { createSqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'

const CTX = { ip: '192.0.2.1', requestId: 'req-1', actorId: 5 }

function recordingLog () {
  const lines: Array<{ level: number, msg: string }> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  return { log, lines }
}

t.test('a healthy cache logs nothing above info; a broken one is logged and bypassed', async (t) => {
  const db = sqliteDialect(':memory:')
  t.teardown(() => db.close())
  await migrate(db)
  const sql = createSqlStores(db)
  const cache = createMemoryCache()
  const { log, lines } = recordingLog()
  const books = createBookService({ books: sql.books, atomic: sql.atomic, reviews: sql.reviews, cache, ttlSeconds: 60, storeTimeoutMs: 1000, log })

  const titles = async (): Promise<string[]> =>
    (JSON.parse((await books.list({ offset: 0, limit: 5 })).body.toString()) as Array<{ title: string }>).map((b) => b.title)
  const book = await books.create({ title: 'Quiet', author: 'A' }, CTX)
  await books.update(book.id, { title: 'Still quiet', author: 'A' }, CTX)
  t.same(await titles(), ['Still quiet'])
  t.same(await titles(), ['Still quiet'], 'and again, from the cache')
  await books.remove(book.id, CTX)
  t.same(lines.filter((l) => l.level >= 40), [], 'no warnings or errors from a working cache')

  const broken = async (): Promise<never> => { throw new Error('cache down') }
  Object.assign(cache, { readGeneration: broken, writeGeneration: broken, startGeneration: broken })
  const again = await books.create({ title: 'Loud', author: 'A' }, CTX)
  t.same(JSON.parse((await books.get(again.id)).body.toString()), JSON.parse(again.book.body.toString()), 'reads fall back to the store')
  t.ok(lines.some((l) => l.level === 50 && /could not be invalidated/.test(l.msg)), 'a failed invalidation is an error')
  t.ok(lines.some((l) => l.level === 40 && /cache read failed/.test(l.msg)), 'a failed read is a warning')
})

t.test('each write commits with its event or not at all', async (t) => {
  const db = sqliteDialect(':memory:')
  t.teardown(() => db.close())
  await migrate(db)
  const sql = createSqlStores(db)
  let auditDown = false
  const books = createBookService({
    books: sql.books,
    // The same transaction, with an audit log that fails while auditDown is set.
    atomic: (fn) => sql.atomic((s) => fn(auditDown ? { ...s, audit: { ...s.audit, append: async () => { throw new Error('audit down') } } } : s)),
    reviews: sql.reviews,
    cache: createMemoryCache(),
    ttlSeconds: 60,
    storeTimeoutMs: 1000,
    log: pino({ level: 'silent' })
  })
  const title = async (id: number): Promise<string | undefined> => (await sql.books.get(id))?.title

  const { id } = await books.create({ title: 'First', author: 'A' }, CTX)
  t.match(await sql.audit.list({ limit: 10 }), [{ type: 'book.created', user_id: null, actor_id: CTX.actorId, ip: CTX.ip, request_id: CTX.requestId, details: { book_id: id } }])

  auditDown = true
  await t.rejects(books.create({ title: 'Lost', author: 'A' }, CTX), /audit down/)
  t.same((await sql.books.list({ offset: 0, limit: 10 })).map((b) => b.title), ['First'], 'no book without its event')
  await t.rejects(books.update(id, { title: 'Changed', author: 'A' }, CTX), /audit down/)
  t.equal(await title(id), 'First', 'no update without its event')
  await t.rejects(books.remove(id, CTX), /audit down/)
  t.equal(await title(id), 'First', 'no deletion without its event')
  t.same(JSON.parse((await books.get(id)).body.toString()).title, 'First', 'and the cache still answers the book as stored')

  auditDown = false
  await books.update(id, { title: 'Changed', author: 'A' }, CTX)
  await books.remove(id, CTX)
  t.same((await sql.audit.list({ limit: 10 })).map((e) => [e.type, e.details.book_id]), [['book.deleted', id], ['book.updated', id], ['book.created', id]])
  t.same(await sql.audit.verify(), { events: 3, valid: true })
})
