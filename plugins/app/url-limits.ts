import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { MAX_URL_LENGTH, badUrl, uriTooLong } from '../../src/domain/errors'

function decodes (text: string): boolean {
  try {
    decodeURIComponent(text)
    return true
  } catch {
    return false
  }
}

/**
 * The URL rules the router does not apply itself (src/error-handler.ts's frameworkErrors
 * answers a bad path and a path parameter over 100 characters): at most 2,048 characters, and
 * a query string that is valid percent-encoding. Fastify's query parser leaves `%ff` as it
 * is, so without this `?q=%ff` would search for the three characters. A URL longer than
 * Node's header limit (16 KiB) never gets here: the clientError path answers it 414.
 */
export default fp(async function urlLimitsPlugin (fastify) {
  fastify.addHook('onRequest', function checkUrl (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    const url = request.url
    if (url.length > MAX_URL_LENGTH) return done(uriTooLong())
    const query = url.indexOf('?')
    if (query !== -1 && url.includes('%', query) && !decodes(url.slice(query + 1))) return done(badUrl())
    done()
  })
}, { name: 'url-limits' })
