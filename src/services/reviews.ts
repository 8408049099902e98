import { Type } from '@sinclair/typebox'
import { publicReview, type Review, type ReviewCreate, type ReviewRecord, type ReviewUpdate } from '../schemas/review'
import type { TokenClaims } from '../schemas/token'
import { Permission } from '../domain/permission'
import { forbidden, notFound, preconditionFailed } from '../domain/errors'
import type { Page, ReviewStore } from '../stores/types'
import type { BookService } from './books'
import { represent, serializerFor, type Precondition, type Representation } from './representation'

/** Who is acting, as the verified token says. */
export type Actor = Pick<TokenClaims, 'user_id' | 'user_name' | 'permission'>

const serializeReview = serializerFor<Review>(Type.Ref('Review'))
const serializeList = serializerFor<Review[]>(Type.Array(Type.Ref('Review')))

/**
 * Reviews and who may change them. Every read checks that the review's book still exists
 * (through the book service's cache): a review whose book was deleted while its own deletion
 * failed (src/services/books.ts, remove) stays unseen. Reviews are not cached; their
 * representations (bytes and ETag) are made per request.
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

  /** If-Match against the review as just read: the version the write must still find. */
  function expectedVersion (record: ReviewRecord, ifMatch: Precondition): number | undefined {
    if (ifMatch === undefined || ifMatch === '*') return undefined
    if (!ifMatch.includes(represent(serializeReview(record)).etag)) throw preconditionFailed()
    return record.version
  }

  async function missed (id: string, expected: number | undefined): Promise<never> {
    if (expected === undefined || (await reviews.get(id)) === undefined) throw notFound('review')
    throw preconditionFailed()
  }

  return {
    /** A page of a book's reviews, newest first; `nextUrl` names the page after a full one. */
    async list (bookId: number, page: Page, nextUrl: () => string): Promise<Representation> {
      await requireBook(bookId)
      const found = await reviews.listByBook(bookId, page)
      return represent(serializeList(found), found.length === page.limit ? nextUrl() : undefined)
    },

    async get (id: string): Promise<Representation> {
      return represent(serializeReview(publicReview(await visible(id))))
    },

    async create (actor: Actor, input: ReviewCreate): Promise<{ id: string, bookId: number, rep: Representation }> {
      await requireBook(input.book_id)
      const record = await reviews.create({
        book_id: input.book_id,
        user_id: actor.user_id,
        author: input.author ?? actor.user_name,
        title: input.title,
        content: input.content
      })
      return { id: record.id, bookId: record.book_id, rep: represent(serializeReview(record)) }
    },

    async update (actor: Actor, id: string, input: ReviewUpdate, ifMatch?: Precondition): Promise<Representation> {
      const current = await visible(id)
      mayChange(actor, current)
      const expected = expectedVersion(current, ifMatch)
      const updated = await reviews.update(id, input, expected) ?? await missed(id, expected)
      return represent(serializeReview(updated))
    },

    async remove (actor: Actor, id: string, ifMatch?: Precondition): Promise<void> {
      const current = await visible(id)
      mayChange(actor, current)
      const expected = expectedVersion(current, ifMatch)
      if (!(await reviews.delete(id, expected))) await missed(id, expected)
    }
  }
}

export type ReviewService = ReturnType<typeof createReviewService>
