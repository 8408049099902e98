import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

/**
 * The OpenAPI 3 document, generated from the route schemas, at /docs/json, and the explorer
 * at /docs. Protected routes declare `security: [{ bearerAuth: [] }]` themselves.
 */
export default fp(async function swaggerPlugin (fastify) {
  await fastify.register(swagger, {
    // Autoloaded `/` routes are registered as `/books/`; the service answers both, and the
    // document names the form clients use.
    // Shared schemas keep their $id as their name in components (ErrorResponse, Book...).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url }) => ({ schema, url: url.length > 1 ? url.replace(/\/$/, '') : url }),
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Bookstore API',
        version: '1.0.0',
        description: 'Books, their reviews, and users who sign in for a JWT whose permission level ' +
          '(0 None, 1 User, 2 Author, 3 Admin) is checked on every write. Every error answers one shape ' +
          'with a stable `code`.'
      },
      tags: [
        { name: 'books', description: 'The catalogue: anyone reads, Authors write' },
        { name: 'reviews', description: 'Reviews: Users write; the writer or an Admin edits and deletes' },
        { name: 'users', description: 'Sign-up, sign-in and permission levels' },
        { name: 'health', description: 'Liveness and readiness probes' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from POST /users/sign-in' }
        }
      }
    }
  })
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: true }
  })
}, { name: 'swagger', dependencies: ['config'] })
