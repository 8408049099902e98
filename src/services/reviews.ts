import { Type } from '@sinclair/typebox'
import { publicReview, type Review, type ReviewCreate, type ReviewRecord, type ReviewUpdate } from '../schemas/review'
import type { TokenClaims } from '../schemas/token'
import { Permission } from '../domain/permission'
import { forbidden, notFound } from '../domain/errors'
import type { Page, ReviewStore } from '../stores/types'
import type { BookService } from './books'
import { createConditionalWrite, type Expected } from './conditional-write'
import { serialized, serializerFor, type Serialized, type SerializedPage } from './serialized'

/** Who is acting, as the verified token says. */
type Actor = Pick<TokenClaims, 'user_id' | 'user_name' | 'permission'>

const serializeReview = serializerFor<Review>(Type.Ref('Review'))
const serializeList = serializerFor<Review[]>(Type.Array(Type.Ref('Review')))

/**
 * Reviews and who may change them. Every read checks that the review's book still exists
 * (through the book service's cache): a review whose book was deleted while its own deletion
 * failed (src/services/books.ts, remove) stays unseen. Reviews are not cached; their
 * serialized forms (bytes and tag) are made per request.
 */
export function createReviewService ({ reviews, books }: { reviews: ReviewStore, books: Pick<BookService, 'exists'> }) {
  async function requireBook (bookId: number): Promise<void> {
    if (!(await books.exists(bookId))) throw notFound('book')
  }

  async function visible (id: string): Promise<ReviewRecord> {
    const record = await reviews.get(id)
    if (record === undefined || !(await books.exists(record.book_id))) throw notFound('review')
    return record
  }

  function mayChange (actor: Actor, record: ReviewRecord): void {
    if (record.user_id !== actor.user_id && actor.permission < Permission.Admin) throw forbidden()
  }

  const conditionalWrite = createConditionalWrite({
    what: 'review',
    read: (id: string) => reviews.get(id),
    tagOf: (record) => serialized(serializeReview(record)).tag
  })

  return {
    /** A page of a book's reviews, newest first, and after a full one where the next starts. */
    async list (bookId: number, page: Page): Promise<SerializedPage> {
      await requireBook(bookId)
      const found = await reviews.listByBook(bookId, page)
      return { ...serialized(serializeList(found)), next: found.length === page.limit ? { offset: page.offset + page.limit } : undefined }
    },

    async get (id: string): Promise<Serialized> {
      return serialized(serializeReview(publicReview(await visible(id))))
    },

    async create (actor: Actor, input: ReviewCreate): Promise<{ id: string, bookId: number, review: Serialized }> {
      await requireBook(input.book_id)
      const record = await reviews.create({
        book_id: input.book_id,
        user_id: actor.user_id,
        author: input.author ?? actor.user_name,
        title: input.title,
        content: input.content
      })
      return { id: record.id, bookId: record.book_id, review: serialized(serializeReview(record)) }
    },

    async update (actor: Actor, id: string, input: ReviewUpdate, expected?: Expected): Promise<Serialized> {
      const current = await visible(id)
      mayChange(actor, current)
      const updated = await conditionalWrite(id, expected, (version) => reviews.update(id, input, version), current)
      return serialized(serializeReview(updated))
    },

    async remove (actor: Actor, id: string, expected?: Expected): Promise<void> {
      const current = await visible(id)
      mayChange(actor, current)
      await conditionalWrite(id, expected, async (version) => (await reviews.delete(id, version)) || undefined, current)
    }
  }
}

export type ReviewService = ReturnType<typeof createReviewService>
