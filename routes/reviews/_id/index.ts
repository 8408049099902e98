import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Permission } from '../../../src/domain/permission'
import { ReviewIdParams, ref } from '../../../src/schemas/common'
import { errors } from '../../../src/schemas/error'
import { Review, ReviewUpdateBody } from '../../../src/schemas/review'

const review: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['reviews'],
      summary: 'One review',
      params: ReviewIdParams,
      response: { 200: ref(Review, 'The review'), ...errors(400, 404) }
    }
  }, async (request) => fastify.reviews.get(request.params.id))

  fastify.put('/', {
    // User admits everyone signed in; the service then admits only the writer or an Admin.
    onRequest: [fastify.requirePermission(Permission.User)],
    schema: {
      tags: ['reviews'],
      summary: 'Edit a review (its writer, or an Admin)',
      security: [{ bearerAuth: [] }],
      params: ReviewIdParams,
      body: ReviewUpdateBody,
      response: { 200: ref(Review, 'The stored review'), ...errors(400, 401, 403, 404, 413, 415) }
    }
  }, async (request) => {
    const updated = await fastify.reviews.update(request.user, request.params.id, request.body)
    request.log.info({ reviewId: updated.id, by: request.user.user_id }, 'review updated')
    return updated
  })

  fastify.delete('/', {
    onRequest: [fastify.requirePermission(Permission.User)],
    schema: {
      tags: ['reviews'],
      summary: 'Delete a review (its writer, or an Admin)',
      security: [{ bearerAuth: [] }],
      params: ReviewIdParams,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errors(400, 401, 403, 404) }
    }
  }, async (request, reply) => {
    await fastify.reviews.remove(request.user, request.params.id)
    request.log.info({ reviewId: request.params.id, by: request.user.user_id }, 'review deleted')
    return reply.code(204).send(null)
  })
}

export default review
