import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import { Permission } from '../../../../src/domain/permission'
import { requestContext } from '../../../../src/http/context'
import { noBodyAsEmpty } from '../../../../src/http/empty-body'
import { errors } from '../../../../src/http/errors'
import { LOCATION, listOf, ref } from '../../../../src/schemas/common'
import { CreationOptions, NoOptionsBody, Passkey, PasskeyIdParams, PasskeyRegistrationBody } from '../../../../src/schemas/passkey'

/** The signed-in user's passkeys: registering one (options, then the authenticator's response), listing, removing. */
const passkeys: FastifyPluginAsyncTypebox = async (fastify) => {
  const onRequest = [fastify.requirePermission(Permission.User)]

  fastify.post('/options', {
    preValidation: noBodyAsEmpty,
    onRequest,
    schema: {
      tags: ['users'],
      summary: 'Creation options for a new passkey (a single-use challenge, good for 5 minutes)',
      security: [{ bearerAuth: [] }],
      body: NoOptionsBody,
      response: { 200: ref(CreationOptions, "PublicKeyCredentialCreationOptionsJSON, excluding the user's passkeys") }
    }
  }, async (request) => fastify.passkeys.registrationOptions({ id: request.user.user_id, email: request.user.user_name }))

  fastify.post('/', {
    onRequest,
    schema: {
      tags: ['users'],
      summary: "Register a passkey: the authenticator's response to the creation options",
      security: [{ bearerAuth: [] }],
      body: PasskeyRegistrationBody,
      response: { 201: ref(Passkey, 'The new passkey', LOCATION), ...errors('PASSKEY_INVALID') }
    }
  }, async (request, reply) => {
    const credential = request.body.credential as unknown as RegistrationResponseJSON
    const passkey = await fastify.passkeys.register(request.user.user_id, request.body.name, credential, requestContext(request))
    request.log.info({ userId: request.user.user_id, passkeyId: passkey.id }, 'passkey added')
    return reply.code(201).header('location', `/users/me/passkeys/${passkey.id}`).send(passkey)
  })

  fastify.get('/', {
    onRequest,
    schema: {
      tags: ['users'],
      summary: "The signed-in user's passkeys, oldest first",
      security: [{ bearerAuth: [] }],
      response: { 200: listOf(Passkey, 'Passkeys, oldest first') }
    }
  }, async (request) => fastify.passkeys.list(request.user.user_id))

  fastify.delete('/:id', {
    onRequest,
    schema: {
      tags: ['users'],
      summary: 'Remove a passkey: it signs in no more',
      security: [{ bearerAuth: [] }],
      params: PasskeyIdParams,
      response: { 204: Type.Null({ description: 'Removed' }), ...errors('PASSKEY_NOT_FOUND') }
    }
  }, async (request, reply) => {
    await fastify.passkeys.remove(request.user.user_id, request.params.id, requestContext(request))
    request.log.info({ userId: request.user.user_id, passkeyId: request.params.id }, 'passkey removed')
    return reply.code(204).send(null)
  })
}

export default passkeys
