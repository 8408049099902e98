import type { onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { API_SECURITY_HEADERS, DOCS_SECURITY_HEADERS, isDocsRoute } from '../../src/http/security-headers'

const setting = (headers: Readonly<Record<string, string>>): onRequestHookHandler => function securityHeadersHook (_request, reply, done) {
  reply.headers(headers)
  done()
}

/**
 * helmet's security headers on every answer, worked out once (src/http/security-headers.ts)
 * and copied on by a hook that takes `done` (an async one costs a promise per request).
 * Routes under /docs get the document set on top, through their own hook.
 */
export default fp(async function helmetPlugin (fastify) {
  const forDocs = setting(DOCS_SECURITY_HEADERS)
  fastify.addHook('onRequest', setting(API_SECURITY_HEADERS))
  fastify.addHook('onRoute', (route) => {
    if (isDocsRoute(route.url)) route.onRequest = [route.onRequest ?? []].flat().concat(forDocs)
  })
}, { name: 'helmet' })
