import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Permission } from '../../../../src/domain/permission'
import { LOCATION, listOf, ref } from '../../../../src/schemas/common'
import { requestContext } from '../../../../src/http/context'
import { errors } from '../../../../src/http/errors'
import { ApiKey, ApiKeyBody, ApiKeyIdParams, CreatedApiKey } from '../../../../src/schemas/api-key'

/**
 * The signed-in user's API keys. Account routes: a key cannot manage keys (the default rule of
 * requirePermission, said here too so it reads at the route).
 */
const apiKeys: FastifyPluginAsyncTypebox = async (fastify) => {
  const signedIn = fastify.requirePermission(Permission.User, { apiKeys: false })

  fastify.post('/', {
    onRequest: [signedIn],
    schema: {
      tags: ['users'],
      summary: 'Create an API key; the key is in this answer only',
      security: [{ bearerAuth: [] }],
      body: ApiKeyBody,
      response: {
        201: ref(CreatedApiKey, 'The new key, with `key` shown this once', LOCATION),
        ...errors('USER_NOT_FOUND', 'TOO_MANY_API_KEYS')
      }
    }
  }, async (request, reply) => {
    const created = await fastify.apiKeys.create(request.user.user_id, request.body, requestContext(request))
    request.log.info({ userId: request.user.user_id, apiKeyId: created.id, permission: created.permission }, 'API key created')
    return reply.code(201).header('location', `/users/me/api-keys/${created.id}`).send(created)
  })

  fastify.get('/', {
    onRequest: [signedIn],
    schema: {
      tags: ['users'],
      summary: "The signed-in user's live API keys, newest first (never the keys themselves)",
      security: [{ bearerAuth: [] }],
      response: { 200: listOf(ApiKey, 'Live keys, newest first') }
    }
  }, async (request) => fastify.apiKeys.list(request.user.user_id))

  fastify.delete('/:id', {
    onRequest: [signedIn],
    schema: {
      tags: ['users'],
      summary: 'Revoke one of the signed-in user\'s API keys: refused from the next request on, on every instance',
      security: [{ bearerAuth: [] }],
      params: ApiKeyIdParams,
      response: { 204: Type.Null({ description: 'Revoked' }), ...errors('API_KEY_NOT_FOUND') }
    }
  }, async (request, reply) => {
    await fastify.apiKeys.revoke(request.user.user_id, request.params.id, requestContext(request))
    request.log.info({ userId: request.user.user_id, apiKeyId: request.params.id }, 'API key revoked')
    return reply.code(204).send(null)
  })
}

export default apiKeys
