import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { invalidInput } from '../../src/domain/errors'
import { nextPageUrl, resourceUrl } from '../../src/http/links'
import { Permission } from '../../src/domain/permission'
import { Book, BookBody } from '../../src/schemas/book'
import { ETAG, IdempotencyHeaders, IfNoneMatchHeaders, KeysetPageQuery, LOCATION, NotModified, PAGE_HEADERS, listOf, ref } from '../../src/schemas/common'
import { requestContext } from '../../src/http/context'
import { errors } from '../../src/http/errors'

/** `after` and `o` are two ways to page: one at a time. */
const afterWithOffset = () => invalidInput('querystring', '/after', 'cannot be combined with o')

const books: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['books'],
      summary: 'List books by id, optionally matching title or author; page with `after` (keyset) or `o`',
      querystring: KeysetPageQuery,
      headers: IfNoneMatchHeaders,
      response: { 200: listOf(Book, 'A page of books, by id', PAGE_HEADERS), 304: NotModified, ...errors(afterWithOffset()) }
    }
  }, async (request, reply) => {
    const { o = 0, after, limit = fastify.config.pageSize, q } = request.query
    // `o` has its default by now: whether the client sent it, the URL says.
    if (after !== undefined && new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1)).has('o')) {
      throw afterWithOffset()
    }
    const wanted = { offset: o, after, limit, q }
    const read = () => fastify.books.list(wanted)
    const page = await read()
    return reply.sendRepresentation(page, page.next === undefined ? undefined : nextPageUrl('/books', page.next, limit, q), { read, peek: fastify.books.peekList(wanted) })
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
      response: { 201: ref(Book, 'The stored book', { ...LOCATION, ...ETAG }), ...errors('IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE') }
    }
  }, async (request, reply) => {
    const { id, book } = await fastify.books.create(request.body, requestContext(request))
    request.log.info({ bookId: id, by: request.user.user_id }, 'book created')
    return reply.code(201).header('location', resourceUrl('books', id)).sendRepresentation(book)
  })
}

export default books
