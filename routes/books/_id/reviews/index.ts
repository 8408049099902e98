import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParams, PageQuery, listOf } from '../../../../src/schemas/common'
import { errors } from '../../../../src/schemas/error'
import { Review } from '../../../../src/schemas/review'

const bookReviews: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['reviews'],
      summary: "A book's reviews, newest first, optionally matching title or content",
      params: IdParams,
      querystring: PageQuery,
      response: { 200: listOf(Review, "A page of the book's reviews, newest first"), ...errors(400, 404) }
    }
  }, async (request) => {
    const { o = 0, limit = fastify.config.pageSize, q } = request.query
    return fastify.reviews.list(request.params.id, { offset: o, limit, q })
  })
}

export default bookReviews
