import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Book, type BookInput } from '../schemas/book'
import { notFound, preconditionFailed } from '../domain/errors'
import { CacheUnavailableError } from '../cache/breaker'
import type { KeyValueCache } from '../cache/types'
import type { BookStore, Page, ReviewStore } from '../stores/types'
import { decodeRepresentation, encodeRepresentation, represent, serializerFor, type Precondition, type Representation } from './representation'

/** The cache namespace of book pages and books. */
const NAMESPACE = 'books'
const GENERATION_TTL_SECONDS = 7 * 24 * 3600

const serializeBook = serializerFor<Book>(Type.Ref('Book'))
const serializePage = serializerFor<Book[]>(Type.Array(Type.Ref('Book')))

interface Deps {
  books: BookStore
  /** Wherever reviews live: deleting a book asks this store to drop them (see remove()). */
  reviews: ReviewStore
  cache: KeyValueCache
  ttlSeconds: number
  log: FastifyBaseLogger
  /** Told of every cache read's result (the metrics' bookstore_cache_requests_total). */
  onCache?: (result: 'hit' | 'miss' | 'error') => void
}

/**
 * Books with cache-aside reads of whole representations (bytes and ETag). Every cached
 * entry lives under the current generation, a unique token in the shared cache, read with
 * the entry in one round trip; a successful write starts a new generation, so every cached
 * page and book of the old one is unreachable at once, on every instance. A missing token
 * (expired, evicted, cache restarted) is replaced by a fresh one, never reused, so an old
 * entry can never come back. A cache that fails is logged and bypassed: its calls are
 * bounded by the client (ioredis' commandTimeout) and, after a few failures, refused at once
 * by the circuit breaker (src/cache/breaker.ts); the in-process one cannot fail or wait.
 * Why no outage (restart, restore, failover, eviction) brings back an entry older than a
 * write, and why a write whose invalidation failed is still seen within the TTL: the Redis
 * cache is wrapped by src/cache/coherent.ts, which says it.
 */
export function createBookService ({ books, reviews, cache, ttlSeconds, log, onCache = () => {} }: Deps) {
  /** The cache's answer, or undefined (logged) when it fails. */
  async function cacheOrUndefined<T> (what: string, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call()
    } catch (err) {
      if (what === 'read') onCache('error')
      // An open circuit refuses at once, on every call: the breaker logged when it opened.
      if (err instanceof CacheUnavailableError) log.debug({ cache: cache.name, reason: err.message }, `cache ${what} skipped; using the store`)
      else log.warn({ err, cache: cache.name }, `cache ${what} failed; using the store`)
      return undefined
    }
  }

  async function cached (key: string, load: () => Promise<Representation | undefined>): Promise<Representation | undefined> {
    const read = await cacheOrUndefined('read', () => cache.readGeneration(NAMESPACE, key, randomUUID(), GENERATION_TTL_SECONDS))
    const hit = read?.value === undefined ? undefined : decodeRepresentation(read.value)
    if (hit !== undefined) {
      onCache('hit')
      return hit
    }
    if (read !== undefined) onCache('miss')
    const loading = Date.now()
    const fresh = await load()
    // The TTL counts from before the load: an entry made of rows read before some write
    // then lives less than CACHE_TTL_SECONDS past that write, even if it is stored after it
    // and the write's invalidation never reached the cache.
    const ttl = ttlSeconds - (Date.now() - loading) / 1000
    if (fresh !== undefined && read !== undefined && ttl > 0) {
      await cacheOrUndefined('write', () => cache.writeGeneration(NAMESPACE, read.generation, key, encodeRepresentation(fresh), ttl))
    }
    return fresh
  }

  async function invalidate (): Promise<void> {
    const ok = await cacheOrUndefined('invalidate', async () => {
      await cache.startGeneration(NAMESPACE, randomUUID(), GENERATION_TTL_SECONDS)
      return true
    })
    if (ok === undefined) {
      // This instance now reads the store until its retries land (src/cache/coherent.ts);
      // another instance that still reaches the cache may serve older entries until their TTL ends.
      log.error({ cache: cache.name }, 'book cache could not be invalidated; retrying in the background, cached reads elsewhere may be stale until the TTL passes')
    }
  }

  /**
   * If-Match, checked against the book as stored now: the version the write must still find
   * (the store's conditional write makes check and write one step), or undefined when any
   * version will do. 404 before 412: a missing book is missing whatever If-Match says.
   */
  async function expectedVersion (id: number, ifMatch: Precondition): Promise<number | undefined> {
    if (ifMatch === undefined) return undefined
    const current = await books.get(id)
    if (current === undefined) throw notFound('book')
    if (ifMatch === '*') return undefined
    if (!ifMatch.includes(represent(serializeBook(current)).etag)) throw preconditionFailed()
    return current.version
  }

  /** A conditional write found nothing: the book is gone (404), or changed since the check (412). */
  async function missed (id: number, expected: number | undefined): Promise<never> {
    if (expected === undefined || (await books.get(id)) === undefined) throw notFound('book')
    throw preconditionFailed()
  }

  const find = (id: number): Promise<Representation | undefined> => cached(`book:${id}`, async () => {
    const book = await books.get(id)
    return book === undefined ? undefined : represent(serializeBook(book))
  })

  return {
    /**
     * A page of books, by id. `nextUrl` names the page after a full one (the route knows
     * URLs); it is cached with the page, whose key holds every parameter it depends on.
     */
    async list (page: Page, nextUrl: (last: Book) => string): Promise<Representation> {
      const key = `list:${page.offset}:${page.after ?? ''}:${page.limit}:${encodeURIComponent(page.q ?? '')}`
      const rep = await cached(key, async () => {
        const found = await books.list(page)
        const last = found.length === page.limit ? found[found.length - 1] : undefined
        return represent(serializePage(found), last === undefined ? undefined : nextUrl(last))
      })
      if (rep === undefined) throw new Error('a page always has a representation')
      return rep
    },

    async get (id: number): Promise<Representation> {
      const rep = await find(id)
      if (rep === undefined) throw notFound('book')
      return rep
    },

    /** Whether the book exists, through the same cache as reads (a write invalidates it). */
    async exists (id: number): Promise<boolean> {
      return (await find(id)) !== undefined
    },

    async create (input: BookInput): Promise<{ id: number, rep: Representation }> {
      const book = await books.create(input)
      await invalidate()
      return { id: book.id, rep: represent(serializeBook(book)) }
    },

    async update (id: number, input: BookInput, ifMatch?: Precondition): Promise<Representation> {
      const expected = await expectedVersion(id, ifMatch)
      const book = await books.update(id, input, expected) ?? await missed(id, expected)
      await invalidate()
      return represent(serializeBook(book))
    },

    /**
     * The one place a book's reviews go with it. The book goes first; then the review store
     * drops its reviews: in SQL the foreign key's ON DELETE CASCADE already took them in the
     * same statement, so this finds none; in MongoDB this is what removes them. If that step
     * fails (or the process dies before it), the reviews left behind are never shown:
     * every review read checks, through exists(), that its book is still there.
     */
    async remove (id: number, ifMatch?: Precondition): Promise<void> {
      const expected = await expectedVersion(id, ifMatch)
      if (!(await books.delete(id, expected))) await missed(id, expected)
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
