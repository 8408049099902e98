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
