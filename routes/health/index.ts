import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { withDeadline } from '../../src/deadline'
import { errorRef } from '../../src/schemas'

const Ready = Type.Object({
  status: Type.Literal('ok'),
  services: Type.Record(Type.String(), Type.String({ description: '"up" or "down"' }))
}, { description: 'Every configured backing service answers' })

const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/live', {
    schema: {
      tags: ['health'],
      summary: 'Liveness: the process serves requests',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process serves requests' }), 500: errorRef(500) }
    }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/ready', {
    schema: {
      tags: ['health'],
      summary: 'Readiness: every configured backing service answers',
      response: { 200: Ready, 500: errorRef(500), 503: { ...errorRef(503), description: 'NOT_READY: `services` names the backing service that is down; see Retry-After' } }
    }
  }, async (_request, reply) => {
    const checks = [...fastify.stores.backends, fastify.cache]
    const timeoutMs = fastify.config.backendTimeoutMs
    const states = await Promise.all(checks.map(async (backend) => {
      try {
        await withDeadline(backend.ping(), timeoutMs, backend.name)
        return [backend.name, 'up'] as const
      } catch {
        return [backend.name, 'down'] as const
      }
    }))
    const services = Object.fromEntries(states)
    const down = states.filter(([, state]) => state === 'down').map(([name]) => name)
    if (down.length === 0) return { status: 'ok' as const, services }
    return reply.code(503).header('retry-after', '5').send({
      statusCode: 503,
      code: 'NOT_READY',
      error: 'Service Unavailable',
      message: `Not ready: ${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down`,
      services
    })
  })
}

export default health
