import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { badUrl, uriTooLong } from '../../src/http/errors'
import { urlProblem } from '../../src/http/limits'

/**
 * The URL rules the router does not apply itself (src/http/limits.ts's urlProblem); the
 * router's own, a bad path and a path parameter over the limit, are answered by
 * src/http/error-handler.ts's frameworkErrors. A URL longer than Node's header limit (16 KiB)
 * never gets here: the clientError path answers it 414.
 */
export default fp(async function urlLimitsPlugin (fastify) {
  fastify.addHook('onRequest', function checkUrl (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    const problem = urlProblem(request.url)
    done(problem === 'too-long' ? uriTooLong() : problem === 'bad-encoding' ? badUrl() : undefined)
  })
}, { name: 'url-limits' })
