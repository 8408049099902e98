import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHotReads, plainGet, type HotReads, type Reread } from '../../src/http/hot-reads'
import { publicPath } from '../../src/http/openapi'
import { debugging } from '../../src/http/request-logger'
import { genReqId } from '../../src/http/server-options'

declare module 'fastify' {
  interface FastifyInstance {
    /** Cached reads answered before Fastify (src/http/hot-reads.ts); absent while tracing. */
    hotReads?: HotReads
  }
  interface FastifyRequest {
    /** Set by sendRepresentation on a 200 a route can read again: recorded once it is sent. */
    hotCandidate: (Reread & { tag: string }) | null
  }
}

/** URLs remembered at most: each entry is a header list and a closure, the body stays in the cache. */
const LIMIT = 10_000

/**
 * Installs src/http/hot-reads.ts in front of Fastify's request handler and records each
 * plain 200 a route offers (`reply.sendRepresentation(content, next, again)`) with the headers
 * it was actually sent with. Off while tracing: every request must have its span.
 */
export default fp(async function hotReadsPlugin (fastify) {
  if (fastify.tracing !== undefined) return
  const hot = createHotReads({
    limit: LIMIT,
    open: () => !fastify.lifecycle.draining && !fastify.isUnderPressure() && !debugging(fastify.log),
    requestId: genReqId,
    log: fastify.log
  })
  fastify.decorate('hotReads', hot)
  fastify.decorateRequest('hotCandidate', null)

  // Fastify's server has one 'request' listener: ours takes its place and hands it every request
  // it does not answer (a serverFactory would mean re-making the server Fastify sets up from its options).
  const server = fastify.server
  const [handler] = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>
  if (handler !== undefined) {
    server.removeListener('request', handler)
    server.on('request', hot.wrap(handler))
  }

  fastify.addHook('onResponse', function recordHotRead (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const candidate = request.hotCandidate
    if (candidate !== null && reply.statusCode === 200 && plainGet(request.method, request.headers) && !fastify.lifecycle.draining) {
      const headers: string[] = []
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (name === 'x-request-id' || value === undefined) continue
        for (const one of [value].flat()) headers.push(name, String(one))
      }
      const series = fastify.metrics?.route('GET', publicPath(request.routeOptions.url ?? ''))
      hot.record(request.url, { ...candidate, headers, observe: series === undefined ? undefined : (status, seconds) => { series.observe(status, seconds) } })
    }
    done()
  })
}, { name: 'hot-reads', dependencies: ['config', 'shutdown', 'under-pressure', 'metrics'] })
