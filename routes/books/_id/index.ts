import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Permission } from '../../../src/domain/permission'
import { Book, BookBody } from '../../../src/schemas/book'
import { IdParams, IfMatchHeaders, IfNoneMatchHeaders, NotModified, VALIDATORS, ref } from '../../../src/schemas/common'
import { requestContext } from '../../../src/http/context'
import { errors } from '../../../src/http/errors'

const book: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['books'],
      summary: 'One book',
      params: IdParams,
      headers: IfNoneMatchHeaders,
      response: { 200: ref(Book, 'The book', VALIDATORS), 304: NotModified, ...errors('BOOK_NOT_FOUND') }
    }
  }, async (request, reply) => {
    const { id } = request.params
    const read = () => fastify.books.get(id)
    return reply.sendRepresentation(await read(), undefined, { read, peek: fastify.books.peekBook(id) })
  })

  fastify.put('/', {
    onRequest: [fastify.requirePermission(Permission.Author)],
    schema: {
      tags: ['books'],
      summary: 'Replace a book (Author); answers the stored book and its new ETag',
      security: [{ bearerAuth: [] }],
      params: IdParams,
      headers: IfMatchHeaders,
      body: BookBody,
      response: { 200: ref(Book, 'The stored book', VALIDATORS), ...errors('BOOK_NOT_FOUND', 'PRECONDITION_FAILED') }
    }
  }, async (request, reply) => {
    const updated = await fastify.books.update(request.params.id, request.body, requestContext(request), request.ifMatch)
    request.log.info({ bookId: request.params.id, by: request.user.user_id }, 'book updated')
    return reply.sendRepresentation(updated)
  })

  fastify.delete('/', {
    onRequest: [fastify.requirePermission(Permission.Author)],
    schema: {
      tags: ['books'],
      summary: 'Delete a book and its reviews (Author)',
      security: [{ bearerAuth: [] }],
      params: IdParams,
      headers: IfMatchHeaders,
      response: { 204: Type.Null({ description: 'Deleted, with its reviews' }), ...errors('BOOK_NOT_FOUND', 'PRECONDITION_FAILED') }
    }
  }, async (request, reply) => {
    await fastify.books.remove(request.params.id, requestContext(request), request.ifMatch)
    request.log.info({ bookId: request.params.id, by: request.user.user_id }, 'book deleted')
    return reply.code(204).send(null)
  })
}

export default book
