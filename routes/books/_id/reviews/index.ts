import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { nextPageUrl } from '../../../../src/http/links'
import { IdParams, IfNoneMatchHeaders, NotModified, PAGE_HEADERS, PageQuery, listOf } from '../../../../src/schemas/common'
import { errors } from '../../../../src/http/errors'
import { Review } from '../../../../src/schemas/review'

const bookReviews: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['reviews'],
      summary: "A book's reviews, newest first, optionally matching title or content",
      params: IdParams,
      querystring: PageQuery,
      headers: IfNoneMatchHeaders,
      response: { 200: listOf(Review, "A page of the book's reviews, newest first", PAGE_HEADERS), 304: NotModified, ...errors('BOOK_NOT_FOUND') }
    }
  }, async (request, reply) => {
    const { o = 0, limit = fastify.config.pageSize, q } = request.query
    const bookId = request.params.id
    const read = () => fastify.reviews.list(bookId, { offset: o, limit, q })
    const page = await read()
    return reply.sendRepresentation(page, page.next === undefined ? undefined : nextPageUrl(`/books/${bookId}/reviews`, page.next, limit, q), { read })
  })
}

export default bookReviews
