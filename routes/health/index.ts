import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { notReady, notReadyShedding, shuttingDown } from '../../src/domain/errors'
import { errors } from '../../src/http/errors'
import { SHED_RETRY_AFTER_SECONDS } from '../../src/http/limits'
import { Readiness, Status, ref } from '../../src/schemas/common'

/** Both answer while the service sheds load: liveness stays 200, readiness says why it is 503. */
const passThrough = { pressureHandler: () => undefined }

const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/live', {
    config: passThrough,
    schema: {
      tags: ['health'],
      summary: 'Liveness: the process serves requests',
      response: { 200: ref(Status, 'The process serves requests') }
    }
  }, async () => ({ status: 'ok' as const }))

  fastify.get('/ready', {
    config: passThrough,
    schema: {
      tags: ['health'],
      summary: 'Readiness: every configured backing service answers',
      response: {
        200: ref(Readiness, 'Every configured backing service answers'),
        ...errors('NOT_READY')
      }
    }
  }, async () => {
    const services = await fastify.readiness()
    // A check that began just before close did: the load balancer must not keep sending here.
    if (fastify.lifecycle.draining) throw shuttingDown()
    if (Object.values(services).includes('down')) throw notReady(services)
    if (fastify.isUnderPressure()) throw notReadyShedding(services, SHED_RETRY_AFTER_SECONDS)
    return { status: 'ok' as const, services }
  })
}

export default health
