import Fastify, { type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { publicPath } from '../../src/http/openapi'
import { createMetrics, type Metrics, type RouteSeries } from '../../src/metrics'

declare module 'fastify' {
  interface FastifyInstance {
    /** Set only with METRICS_PORT: the app's own registry and its observers. */
    metrics?: Metrics
    /** The second listener that serves GET /metrics; src/server.ts listens on HOST:METRICS_PORT after the API. */
    metricsServer?: FastifyInstance
  }
}

type ResponseHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void


/**
 * Prometheus metrics with METRICS_PORT set; nothing at all otherwise. Each route gets its
 * duration series when it is registered, and an onResponse hook bound to them, so a request
 * only looks its series up by method and adds to numbers (request.routeOptions would build an
 * object per request). The hooks take `done` rather than being async: an async hook makes a
 * promise per request, and these do no I/O.
 */
export default fp(async function metricsPlugin (fastify) {
  const { metricsPort } = fastify.config
  if (metricsPort === undefined) return
  const metrics = createMetrics({ backends: () => fastify.readiness(), replicas: () => fastify.stores.replicaStatus?.() ?? [] })
  fastify.decorate('metrics', metrics)

  const byPattern = new Map<string, { methods: Record<string, RouteSeries>, hook: ResponseHook }>()
  fastify.addHook('onRoute', (route) => {
    const url = publicPath(route.url)
    let entry = byPattern.get(url)
    if (entry === undefined) {
      const methods: Record<string, RouteSeries> = {}
      const hook: ResponseHook = function observeDuration (request, reply, done) {
        methods[request.method]?.observe(reply.statusCode, reply.elapsedTime / 1000)
        done()
      }
      entry = { methods, hook }
      byPattern.set(url, entry)
    }
    for (const method of [route.method].flat()) entry.methods[method] = metrics.route(method, url)
    // A HEAD route is made from its GET route's options, hooks included: one hook per pattern.
    const hooks = [route.onResponse ?? []].flat()
    if (!hooks.includes(entry.hook)) route.onResponse = [...hooks, entry.hook]
  })

  // Requests no route matched share one series per method; never the raw URL.
  const unmatched: Record<string, RouteSeries> = {}
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) unmatched[method] = metrics.route(method, '(unmatched)')
  const other = metrics.route('OTHER', '(unmatched)')
  fastify.addHook('onResponse', function observeUnmatched (request, reply, done) {
    if (request.is404) (unmatched[request.method] ?? other).observe(reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  const server = Fastify({ logger: false })
  server.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType)
    return metrics.registry.metrics()
  })
  fastify.decorate('metricsServer', server)
  fastify.addHook('onClose', async () => { await server.close() })
}, { name: 'metrics', dependencies: ['config'] })
