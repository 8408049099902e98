import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Permission } from '../../../src/domain/permission'
import { IfMatchHeaders, IfNoneMatchHeaders, NotModified, ReviewIdParams, VALIDATORS, ref } from '../../../src/schemas/common'
import { errors } from '../../../src/http/errors'
import { Review, ReviewUpdateBody } from '../../../src/schemas/review'

const review: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['reviews'],
      summary: 'One review',
      params: ReviewIdParams,
      headers: IfNoneMatchHeaders,
      response: { 200: ref(Review, 'The review', VALIDATORS), 304: NotModified, ...errors('REVIEW_NOT_FOUND') }
    }
  }, async (request, reply) => {
    const { id } = request.params
    const read = () => fastify.reviews.get(id)
    return reply.sendRepresentation(await read(), undefined, { read })
  })

  fastify.put('/', {
    // User admits everyone signed in; the service then admits only the writer or an Admin.
    onRequest: [fastify.requirePermission(Permission.User)],
    schema: {
      tags: ['reviews'],
      summary: 'Edit a review (its writer, or an Admin); answers the stored review and its new ETag',
      security: [{ bearerAuth: [] }],
      params: ReviewIdParams,
      headers: IfMatchHeaders,
      body: ReviewUpdateBody,
      response: { 200: ref(Review, 'The stored review', VALIDATORS), ...errors('REVIEW_NOT_FOUND', 'PRECONDITION_FAILED') }
    }
  }, async (request, reply) => {
    const updated = await fastify.reviews.update(request.user, request.params.id, request.body, request.ifMatch)
    request.log.info({ reviewId: request.params.id, by: request.user.user_id }, 'review updated')
    return reply.sendRepresentation(updated)
  })

  fastify.delete('/', {
    onRequest: [fastify.requirePermission(Permission.User)],
    schema: {
      tags: ['reviews'],
      summary: 'Delete a review (its writer, or an Admin)',
      security: [{ bearerAuth: [] }],
      params: ReviewIdParams,
      headers: IfMatchHeaders,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errors('REVIEW_NOT_FOUND', 'PRECONDITION_FAILED') }
    }
  }, async (request, reply) => {
    await fastify.reviews.remove(request.user, request.params.id, request.ifMatch)
    request.log.info({ reviewId: request.params.id, by: request.user.user_id }, 'review deleted')
    return reply.code(204).send(null)
  })
}

export default review
