import { publicReview, type Page, type Review, type ReviewRecord } from '../domain/models'
import { Permission } from '../domain/permission'
import { forbidden, notFound } from '../domain/errors'
import type { BookStore, ReviewStore } from '../stores/types'

/** Who is acting, as the verified token says. */
export interface Actor {
  user_id: number
  user_name: string
  permission: Permission
}

/**
 * Reviews and who may change them. Every read checks that the review's book still exists:
 * when reviews live in MongoDB the book's deletion and its reviews' deletion are two
 * operations, and this check keeps any review left behind by a crash between them unseen.
 */
export function createReviewService ({ reviews, books }: { reviews: ReviewStore, books: BookStore }) {
  async function requireBook (bookId: number): Promise<void> {
    if ((await books.get(bookId)) === undefined) throw notFound('book')
  }

  async function visible (id: string): Promise<ReviewRecord> {
    const record = await reviews.get(id)
    if (record === undefined || (await books.get(record.book_id)) === undefined) throw notFound('review')
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

    async create (actor: Actor, input: { book_id: number, title: string, content: string, author?: string | undefined }): Promise<Review> {
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

    async update (actor: Actor, id: string, input: { title: string, content: string }): Promise<Review> {
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
