import { ObjectId } from 'bson'
import type { FastifyBaseLogger } from 'fastify'
import type { Book, BookInput } from '../schemas/book'
import { notFound } from '../domain/errors'
import { withDeadline } from '../deadline'
import type { KeyValueCache } from '../cache/types'
import type { BookStore, Page, ReviewStore } from '../stores/types'

const GENERATION_KEY = 'books:generation'
const GENERATION_TTL_SECONDS = 7 * 24 * 3600

interface Deps {
  books: BookStore
  /** Wherever reviews live: deleting a book asks this store to drop them (see remove()). */
  reviews: ReviewStore
  cache: KeyValueCache
  ttlSeconds: number
  /** Longest a cache call may take before the store answers instead. */
  cacheTimeoutMs: number
  log: FastifyBaseLogger
  /** Told of every cache read's result (the metrics' bookstore_cache_requests_total). */
  onCache?: (result: 'hit' | 'miss' | 'error') => void
}

const MISS = Symbol('miss')

/** A fresh, unique generation token. */
const newGeneration = (): string => new ObjectId().toHexString()

/**
 * Books with cache-aside reads. Every cached entry's key carries the current generation, a
 * unique token in the shared cache; a successful write replaces the token, so every cached
 * page and book of the old generation is unreachable at once, on every instance. A missing
 * token (expired, evicted, cache restarted) is replaced by a fresh one, never reused, so an
 * old entry can never come back. A cache that fails or is slow is logged and bypassed.
 */
export function createBookService ({ books, reviews, cache, ttlSeconds, cacheTimeoutMs, log, onCache = () => {} }: Deps) {
  /** The cache's answer within the deadline, or undefined (logged) when it fails or is slow. */
  async function cacheOrUndefined<T> (what: string, call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await withDeadline(call(), cacheTimeoutMs, `cache ${cache.name}`)
    } catch (err) {
      if (what === 'read') onCache('error')
      log.warn({ err, cache: cache.name }, `cache ${what} failed; using the store`)
      return undefined
    }
  }

  async function generation (): Promise<string | undefined> {
    return cacheOrUndefined('read', async () => {
      const current = await cache.get(GENERATION_KEY)
      if (current !== undefined) return current
      const fresh = newGeneration()
      await cache.set(GENERATION_KEY, fresh, GENERATION_TTL_SECONDS)
      return fresh
    })
  }

  async function cached<T> (key: string, load: () => Promise<T>): Promise<T> {
    const gen = await generation()
    if (gen === undefined) return load()
    const fullKey = `books:${gen}:${key}`
    const hit = await cacheOrUndefined('read', async () => (await cache.get(fullKey)) ?? MISS)
    if (hit !== undefined && hit !== MISS) {
      onCache('hit')
      return JSON.parse(hit) as T
    }
    if (hit === MISS) onCache('miss')
    const value = await load()
    if (value !== undefined) await cacheOrUndefined('write', () => cache.set(fullKey, JSON.stringify(value), ttlSeconds))
    return value
  }

  async function invalidate (): Promise<void> {
    const ok = await cacheOrUndefined('invalidate', async () => {
      await cache.set(GENERATION_KEY, newGeneration(), GENERATION_TTL_SECONDS)
      return true
    })
    if (ok === undefined) {
      // The cache is unreachable: entries age out within the TTL. Say so loudly.
      log.error({ cache: cache.name }, 'book cache could not be invalidated; cached reads may be stale until the TTL passes')
    }
  }

  const find = (id: number): Promise<Book | undefined> => cached(`book:${id}`, () => books.get(id))

  return {
    async list (page: Page): Promise<Book[]> {
      return cached(`list:${page.offset}:${page.limit}:${encodeURIComponent(page.q ?? '')}`, () => books.list(page))
    },

    async get (id: number): Promise<Book> {
      const book = await find(id)
      if (book === undefined) throw notFound('book')
      return book
    },

    /** Whether the book exists, through the same cache as reads (a write invalidates it). */
    async exists (id: number): Promise<boolean> {
      return (await find(id)) !== undefined
    },

    async create (input: BookInput): Promise<Book> {
      const book = await books.create(input)
      await invalidate()
      return book
    },

    async update (id: number, input: BookInput): Promise<Book> {
      const book = await books.update(id, input)
      if (book === undefined) throw notFound('book')
      await invalidate()
      return book
    },

    /**
     * The one place a book's reviews go with it. The book goes first; then the review store
     * drops its reviews: in SQL the foreign key's ON DELETE CASCADE already took them in the
     * same statement, so this finds none; in MongoDB this is what removes them. If that step
     * fails (or the process dies before it), the reviews left behind are never shown:
     * every review read checks, through exists(), that its book is still there.
     */
    async remove (id: number): Promise<void> {
      if (!(await books.delete(id))) throw notFound('book')
      await invalidate()
      try {
        await reviews.deleteByBook(id)
      } catch (err) {
        log.error({ err, bookId: id }, 'reviews of a deleted book were not removed; they stay unreachable')
      }
    }
  }
}

export type BookService = ReturnType<typeof createBookService>
