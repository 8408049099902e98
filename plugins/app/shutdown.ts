import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { shuttingDown } from '../../src/domain/errors'

declare module 'fastify' {
  interface FastifyInstance {
    /** `draining` turns true when close() begins (SIGTERM, SIGINT, or a test's app.close()). */
    lifecycle: { readonly draining: boolean }
  }
}

/** How often idle keep-alive sockets are looked for while draining. */
const REAP_EVERY_MS = 25

/**
 * Graceful shutdown as the contract's "Operations" says it. close() stops accepting and waits
 * for every connection to end, then the onClose hooks close the database and cache clients;
 * src/server.ts exits 0 when it returns. Left to Fastify and Node alone that wait lasts until
 * keep-alive sockets time out: Node's server.close() closes only the sockets idle at
 * that instant, Fastify's `forceCloseConnections: 'idle'` default never runs without a
 * serverFactory (fastify#7044), and an answer to a request already in flight still says
 * keep-alive. So, from the moment close begins:
 * - every answer carries `Connection: close`, so Node ends its socket once it is sent;
 * - idle sockets are closed every REAP_EVERY_MS (one that was busy when close began is idle
 *   as soon as its answer is out, if its client ignored the Connection header);
 * - a request that still arrives on an open connection is 503 in the contract's shape.
 */
export default fp(async function shutdownPlugin (fastify) {
  const lifecycle = { draining: false }
  fastify.decorate('lifecycle', lifecycle)
  let reaper: NodeJS.Timeout | undefined

  fastify.addHook('onRequest', function refuseWhileDraining (_request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) {
    done(lifecycle.draining ? shuttingDown() : undefined)
  })

  fastify.addHook('onSend', function closeWhileDraining (_request, reply, payload, done) {
    if (lifecycle.draining) void reply.header('connection', 'close')
    done(null, payload)
  })

  fastify.addHook('preClose', function beginDraining (done) {
    lifecycle.draining = true
    fastify.log.info('draining: refusing new requests, closing keep-alive connections as their answers go out')
    const server = fastify.server
    const reap = (): void => { server.closeIdleConnections() }
    reap()
    reaper = setInterval(reap, REAP_EVERY_MS)
    reaper.unref()
    server.once('close', () => clearInterval(reaper))
    done()
  })

  fastify.addHook('onClose', function stopReaping (_instance, done) {
    clearInterval(reaper)
    done()
  })
}, { name: 'shutdown', dependencies: ['config'] })
