import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Status, ref } from '../src/schemas/common'
import { errorRef } from '../src/http/errors'

const root: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['health'],
      summary: 'Service status',
      response: { 200: ref(Status, 'The service answers'), 414: errorRef(414), 500: errorRef(500) }
    }
  }, async () => ({ status: 'ok' as const }))
}

export default root
