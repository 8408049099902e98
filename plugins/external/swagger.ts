import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { OPENAPI_OPTIONS } from '../../src/http/openapi'
import { DOCS_PREFIX } from '../../src/http/security-headers'

/**
 * The OpenAPI 3 document (src/http/openapi.ts), generated from the route schemas, at
 * /docs/json, and the explorer at /docs. Loaded with plugins/external, so it is registered
 * before any route and sees every one of them.
 */
export default fp(async function swaggerPlugin (fastify) {
  await fastify.register(swagger, OPENAPI_OPTIONS)
  await fastify.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: true }
  })
}, { name: 'swagger', dependencies: ['config', 'helmet'] })
