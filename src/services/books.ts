import type { FastifyBaseLogger } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Book, type BookInput } from '../schemas/book'
import type { RequestContext } from '../domain/context'
import { notFound } from '../domain/errors'
import type { AuditEventType } from '../schemas/audit'
import type { SqlStoreSet } from '../stores/sql'
import { createCacheAside, type CacheResult } from '../cache/cache-aside'
import type { KeyValueCache } from '../cache/types'
import type { RoutedReads } from '../stores/reads'
import type { BookStore, Page, ReviewStore } from '../stores/types'
import { auditEntry } from './audit'
import { createConditionalWrite, type Expected } from './conditional-write'
import { serialized, serializerFor, type Serialized, type SerializedPage } from './serialized'

const serializeBook = serializerFor<Book>(Type.Ref('Book'))
const serializePage = serializerFor<Book[]>(Type.Array(Type.Ref('Book')))

interface Deps {
  /** The primary's: writes, and the reads that decide one (If-Match, a review's book). */
  books: BookStore
  /** With read replicas: the reads GET /books and GET /books/:id answer, a replica's when one is current enough. */
  reads?: RoutedReads | undefined
  /** One transaction over books and the audit log: each write commits with its event or not at all. */
  atomic: <T>(fn: (stores: Pick<SqlStoreSet, 'books' | 'audit'>) => Promise<T>) => Promise<T>
  /** Wherever reviews live: deleting a book asks this store to drop them (see remove()). */
  reviews: ReviewStore
  cache: KeyValueCache
  ttlSeconds: number
  /** How long a store read may take: another instance's load of a missing entry is waited for at most this long. */
  storeTimeoutMs: number
  log: FastifyBaseLogger
  /** Told of every cache read's result (the metrics' bookstore_cache_requests_total). */
  onCache?: (result: CacheResult) => void
}

// Cached form: one header line, `<tag>\t<after>\n`, then the body. A tag is base64url and
// `after` (the next page's cursor, empty for none) digits: neither holds a tab or a newline.
const NEWLINE = 0x0a
const DIGITS = /^[0-9]*$/

function encodePage ({ body, tag, next }: SerializedPage): Buffer {
  return Buffer.concat([Buffer.from(`${tag}\t${next !== undefined && 'after' in next ? next.after : ''}\n`, 'latin1'), body])
}

function decodePage (stored: Buffer): SerializedPage | undefined {
  const end = stored.indexOf(NEWLINE)
  if (end < 0) return undefined
  const header = stored.toString('latin1', 0, end)
  const tab = header.indexOf('\t')
  const after = header.slice(tab + 1)
  // An entry of another form (a quoted tag, a URL) is not ours: the store answers.
  if (tab <= 0 || header.charCodeAt(0) === 0x22 || !DIGITS.test(after)) return undefined
  return { tag: header.slice(0, tab), body: stored.subarray(end + 1), next: after === '' ? undefined : { after: Number(after) } }
}

/**
 * Books with cache-aside reads of whole serialized forms (bytes, tag, next-page cursor),
 * generation-scoped (src/cache/cache-aside.ts): a successful write starts a new generation,
 * so every cached page and book of the old one is unreachable at once, on every instance. A
 * cache that fails is logged and bypassed: its calls are bounded by the client (ioredis'
 * commandTimeout) and, after a few failures, refused at once by the circuit breaker
 * (src/cache/breaker.ts); the in-process one cannot fail or wait. Why no outage (restart,
 * restore, failover, eviction) brings back an entry older than a write, and why a write whose
 * invalidation failed is still seen within the TTL: src/cache/coherent.ts.
 */
export function createBookService ({ books, reads, atomic, reviews, cache, ttlSeconds, storeTimeoutMs, log, onCache }: Deps) {
  const cached = createCacheAside<SerializedPage>({
    cache,
    namespace: 'books',
    ttlSeconds,
    encode: encodePage,
    decode: decodePage,
    log,
    label: 'cache',
    instead: 'using the store',
    onResult: onCache,
    leaseMs: storeTimeoutMs
  })
  const conditionalWrite = createConditionalWrite({
    what: 'book',
    read: (id: number) => books.get(id),
    tagOf: (book) => serialized(serializeBook(book)).tag
  })

  /**
   * `write` and its event in one transaction; a write that finds nothing (undefined: gone, or
   * changed since the If-Match check) records nothing. The event is about a book, not an
   * account: user_id is null, the writer is the actor.
   */
  const recorded = <T extends { id: number }>(type: AuditEventType, ctx: RequestContext, write: (s: Pick<SqlStoreSet, 'books'>) => Promise<T | undefined>) =>
    atomic(async (s) => {
      const written = await write(s)
      if (written !== undefined) await s.audit.append(auditEntry(type, ctx, { userId: null, details: { book_id: written.id } }), new Date().toISOString())
      return written
    })

  async function invalidate (): Promise<void> {
    if (!(await cached.invalidate())) {
      // This instance now reads the store until its retries land (src/cache/coherent.ts);
      // another instance that still reaches the cache may serve older entries until their TTL ends.
      log.error({ cache: cache.name }, 'book cache could not be invalidated; retrying in the background, cached reads elsewhere may be stale until the TTL passes')
    }
  }

  /** A fill must show every write committed when it began; an answer for one reader, only this instance's own. */
  const routed = <R>(fills: boolean, fn: (store: Pick<BookStore, 'get' | 'list'>) => Promise<R>): Promise<R> =>
    reads === undefined ? fn(books) : reads(fills ? 'current' : 'own-writes', (s) => fn(s.books))

  /** The cache keys: a page's holds every parameter it depends on. */
  const bookKey = (id: number): string => `book:${id}`
  const pageKey = (page: Page): string => `list:${page.offset}:${page.after ?? ''}:${page.limit}:${encodeURIComponent(page.q ?? '')}`

  /** `primary`: the answer decides a write, so no replica gives it. */
  const find = (id: number, primary = false): Promise<Serialized | undefined> => cached.get(bookKey(id), async (fills) => {
    const book = primary ? await books.get(id) : await routed(fills, (store) => store.get(id))
    return book === undefined ? undefined : serialized(serializeBook(book))
  })

  return {
    /** A page of books, by id, and after a full one where the next starts; cached whole. */
    async list (page: Page): Promise<SerializedPage> {
      const found = await cached.get(pageKey(page), async (fills) => {
        const rows = await routed(fills, (store) => store.list(page))
        const last = rows.length === page.limit ? rows[rows.length - 1] : undefined
        return { ...serialized(serializePage(rows)), next: last === undefined ? undefined : { after: last.id } }
      })
      if (found === undefined) throw new Error('a page is always found')
      return found
    },

    /**
     * A look-up of list(page)'s answer that says it at once, where the cache can (in process)
     * and holds it (src/cache/cache-aside.ts, peek); undefined where the cache cannot.
     */
    peekList (page: Page): (() => SerializedPage | undefined) | undefined {
      return cached.peek(pageKey(page))
    },

    async get (id: number): Promise<Serialized> {
      const found = await find(id)
      if (found === undefined) throw notFound('book')
      return found
    },

    /** A look-up of get(id)'s answer, as peekList's. */
    peekBook (id: number): (() => Serialized | undefined) | undefined {
      return cached.peek(bookKey(id))
    },

    /**
     * Whether the book exists, through the same cache as reads (a write invalidates it). It
     * decides writes (a review's book), so a miss asks the primary.
     */
    async exists (id: number): Promise<boolean> {
      return (await find(id, true)) !== undefined
    },

    async create (input: BookInput, ctx: RequestContext): Promise<{ id: number, book: Serialized }> {
      const book = await recorded('book.created', ctx, (s) => s.books.create(input))
      if (book === undefined) throw new Error('a created book is always answered')
      await invalidate()
      return { id: book.id, book: serialized(serializeBook(book)) }
    },

    async update (id: number, input: BookInput, ctx: RequestContext, expected?: Expected): Promise<Serialized> {
      const book = await conditionalWrite(id, expected, (version) => recorded('book.updated', ctx, (s) => s.books.update(id, input, version)))
      await invalidate()
      return serialized(serializeBook(book))
    },

    /**
     * The one place a book's reviews go with it. The book goes first; then the review store
     * drops its reviews: in SQL the foreign key's ON DELETE CASCADE already took them in the
     * same statement, so this finds none; in MongoDB this is what removes them. If that step
     * fails (or the process dies before it), the reviews left behind are never shown:
     * every review read checks, through exists(), that its book is still there.
     */
    async remove (id: number, ctx: RequestContext, expected?: Expected): Promise<void> {
      await conditionalWrite(id, expected, (version) => recorded('book.deleted', ctx, async (s) => (await s.books.delete(id, version)) ? { id } : undefined))
      await invalidate()
      try {
        await reviews.deleteByBook(id)
      } catch (err) {
        log.error({ err, bookId: id }, 'reviews of a deleted book were not removed; they stay unreachable')
      }
    },

    /** After a bulk write that bypassed the service (npm run import): every cached page goes. */
    invalidate
  }
}

export type BookService = ReturnType<typeof createBookService>
