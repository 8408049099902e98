import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Status, ref } from '../src/schemas/common'

const root: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['health'],
      summary: 'Service status',
      response: { 200: ref(Status, 'The service answers') }
    }
  }, async () => ({ status: 'ok' as const }))
}

export default root
