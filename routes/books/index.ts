import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Permission } from '../../src/domain/permission'
import { Book, BookBody } from '../../src/schemas/book'
import { IdempotencyHeaders, LOCATION, PageQuery, listOf, ref } from '../../src/schemas/common'
import { errors } from '../../src/schemas/error'

const books: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['books'],
      summary: 'List books by id, optionally matching title or author',
      querystring: PageQuery,
      response: { 200: listOf(Book, 'A page of books, by id'), ...errors(400) }
    }
  }, async (request) => {
    const { o = 0, limit = fastify.config.pageSize, q } = request.query
    return fastify.books.list({ offset: o, limit, q })
  })

  fastify.post('/', {
    onRequest: [fastify.requirePermission(Permission.Author)],
    config: { idempotent: true },
    schema: {
      tags: ['books'],
      summary: 'Add a book (Author)',
      security: [{ bearerAuth: [] }],
      headers: IdempotencyHeaders,
      body: BookBody,
      response: { 201: ref(Book, 'The stored book', LOCATION), ...errors(400, 401, 403, 409, 413, 415, 422) }
    }
  }, async (request, reply) => {
    const book = await fastify.books.create(request.body)
    request.log.info({ bookId: book.id, by: request.user.user_id }, 'book created')
    return reply.code(201).header('location', `/books/${book.id}`).send(book)
  })
}

export default books
