import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorRef } from '../src/schemas'

const root: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    schema: {
      tags: ['health'],
      summary: 'Service status',
      response: { 200: Type.Object({ status: Type.Literal('ok') }, { description: 'The service answers' }), 500: errorRef(500) }
    }
  }, async () => ({ status: 'ok' as const }))
}

export default root
