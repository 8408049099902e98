import { publicReview, type Review, type ReviewCreate, type ReviewRecord, type ReviewUpdate } from '../schemas/review'
import type { TokenClaims } from '../schemas/token'
import { Permission } from '../domain/permission'
import { forbidden, notFound } from '../domain/errors'
import type { Page, ReviewStore } from '../stores/types'
import type { BookService } from './books'

/** Who is acting, as the verified token says. */
export type Actor = Pick<TokenClaims, 'user_id' | 'user_name' | 'permission'>

/**
 * Reviews and who may change them. Every read checks that the review's book still exists
 * (through the book service's cache): a review whose book was deleted while its own deletion
 * failed (src/services/books.ts, remove) stays unseen.
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

  return {
    async list (bookId: number, page: Page): Promise<Review[]> {
      await requireBook(bookId)
      return reviews.listByBook(bookId, page)
    },

    async get (id: string): Promise<Review> {
      return publicReview(await visible(id))
    },

    async create (actor: Actor, input: ReviewCreate): Promise<Review> {
      await requireBook(input.book_id)
      const record = await reviews.create({
        book_id: input.book_id,
        user_id: actor.user_id,
        author: input.author ?? actor.user_name,
        title: input.title,
        content: input.content
      })
      return publicReview(record)
    },

    async update (actor: Actor, id: string, input: ReviewUpdate): Promise<Review> {
      mayChange(actor, await visible(id))
      const updated = await reviews.update(id, input)
      if (updated === undefined) throw notFound('review')
      return publicReview(updated)
    },

    async remove (actor: Actor, id: string): Promise<void> {
      mayChange(actor, await visible(id))
      if (!(await reviews.delete(id))) throw notFound('review')
    }
  }
}

export type ReviewService = ReturnType<typeof createReviewService>
