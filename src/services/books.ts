import type { FastifyBaseLogger } from 'fastify'
import type { Book, BookInput, Page } from '../domain/models'
import { notFound } from '../domain/errors'
import { newObjectId } from '../domain/object-id'
import { withDeadline } from '../deadline'
import type { KeyValueCache } from '../cache/types'
import type { BookStore, ReviewStore } from '../stores/types'

const GENERATION_KEY = 'books:generation'
const GENERATION_TTL_SECONDS = 7 * 24 * 3600

interface Deps {
  books: BookStore
  /** Set when reviews live in another database than books (MongoDB): see remove(). */
  externalReviews?: ReviewStore | undefined
  cache: KeyValueCache
  ttlSeconds: number
  /** Longest a cache call may take before the store answers instead. */
  cacheTimeoutMs: number
  log: FastifyBaseLogger
}

/**
 * Books with cache-aside reads. Every cached entry's key carries the current generation, a
 * unique token in the shared cache; a successful write replaces the token, so every cached
 * page and book of the old generation is unreachable at once, on every instance. A missing
 * token (expired, evicted, cache restarted) is replaced by a fresh one, never reused, so an
 * old entry can never come back. A cache that fails or is slow is logged and bypassed.
 */
export function createBookService ({ books, externalReviews, cache, ttlSeconds, cacheTimeoutMs, log }: Deps) {
  async function safely<T> (what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await withDeadline(fn(), cacheTimeoutMs, `cache ${cache.name}`)
    } catch (err) {
      log.warn({ err, cache: cache.name }, `cache ${what} failed; using the store`)
      return undefined
    }
  }

  async function generation (): Promise<string | undefined> {
    return safely('read', async () => {
      const current = await cache.get(GENERATION_KEY)
      if (current !== undefined) return current
      const fresh = newObjectId()
      await cache.set(GENERATION_KEY, fresh, GENERATION_TTL_SECONDS)
      return fresh
    })
  }

  async function cached<T> (key: string, load: () => Promise<T>): Promise<T> {
    const gen = await generation()
    if (gen === undefined) return load()
    const fullKey = `books:${gen}:${key}`
    const hit = await safely('read', () => cache.get(fullKey))
    if (hit !== undefined) return JSON.parse(hit) as T
    const value = await load()
    if (value !== undefined) await safely('write', () => cache.set(fullKey, JSON.stringify(value), ttlSeconds))
    return value
  }

  async function invalidate (): Promise<void> {
    const ok = await safely('invalidate', async () => {
      await cache.set(GENERATION_KEY, newObjectId(), GENERATION_TTL_SECONDS)
      return true
    })
    if (ok === undefined) {
      // The cache is unreachable: entries age out within the TTL. Say so loudly.
      log.error({ cache: cache.name }, 'book cache could not be invalidated; cached reads may be stale until the TTL passes')
    }
  }

  return {
    async list (page: Page): Promise<Book[]> {
      return cached(`list:${page.offset}:${page.limit}:${encodeURIComponent(page.q ?? '')}`, () => books.list(page))
    },

    async get (id: number): Promise<Book> {
      const book = await cached(`book:${id}`, () => books.get(id))
      if (book === undefined) throw notFound('book')
      return book
    },

    /** Uncached existence check for writes that depend on the book (reviews). */
    async exists (id: number): Promise<boolean> {
      return (await books.get(id)) !== undefined
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

    async remove (id: number): Promise<void> {
      // SQL: the store deletes the book and its reviews in one transaction. MongoDB: the book
      // goes first, then its reviews; review reads check that the book exists, so a crash
      // between the two leaves orphans that no client can read or list.
      const removed = await books.delete(id)
      if (!removed) throw notFound('book')
      await invalidate()
      if (externalReviews !== undefined) {
        try {
          await externalReviews.deleteByBook(id)
        } catch (err) {
          log.error({ err, bookId: id }, 'reviews of a deleted book were not removed; they stay unreachable')
        }
      }
    }
  }
}

export type BookService = ReturnType<typeof createBookService>
