import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Permission } from '../../src/domain/permission'
import { resourceUrl } from '../../src/http/links'
import { ETAG, IdempotencyHeaders, LOCATION, ref } from '../../src/schemas/common'
import { errors } from '../../src/http/errors'
import { Review, ReviewCreateBody } from '../../src/schemas/review'

const reviews: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/', {
    onRequest: [fastify.requirePermission(Permission.User)],
    config: { idempotent: true },
    schema: {
      tags: ['reviews'],
      summary: 'Review a book (User); author defaults to your email',
      security: [{ bearerAuth: [] }],
      headers: IdempotencyHeaders,
      body: ReviewCreateBody,
      response: { 201: ref(Review, 'The stored review', { ...LOCATION, ...ETAG }), ...errors('BOOK_NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE') }
    }
  }, async (request, reply) => {
    const { id, bookId, review } = await fastify.reviews.create(request.user, request.body)
    request.log.info({ reviewId: id, bookId, by: request.user.user_id }, 'review created')
    return reply.code(201).header('location', resourceUrl('reviews', id)).sendRepresentation(review)
  })
}

export default reviews
