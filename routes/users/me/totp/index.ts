import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { mfaCodeInvalid, wrongCurrentPassword } from '../../../../src/domain/errors'
import { Permission } from '../../../../src/domain/permission'
import { requestContext } from '../../../../src/http/context'
import { errors } from '../../../../src/http/errors'
import { ref } from '../../../../src/schemas/common'
import { RecoveryCodes, TotpConfirmBody, TotpDisableBody, TotpSetup } from '../../../../src/schemas/totp'

/**
 * The signed-in user's TOTP authenticator: a pending secret, its confirmation, disabling.
 * Not among the routes an unverified user may use (REQUIRE_VERIFIED_EMAIL).
 */
const totp: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/', {
    onRequest: [fastify.requirePermission(Permission.User)],
    schema: {
      tags: ['users'],
      summary: 'Start TOTP set-up: a new pending secret (replacing a pending one) for an authenticator app',
      security: [{ bearerAuth: [] }],
      response: {
        200: ref(TotpSetup, 'The secret and its otpauth URL; TOTP is on once a code of it is confirmed'),
        ...errors('USER_NOT_FOUND', 'TOTP_ALREADY_ENABLED')
      }
    }
  }, async (request) => fastify.totp.begin(request.user.user_id))

  fastify.post('/confirm', {
    onRequest: [fastify.requirePermission(Permission.User)],
    schema: {
      tags: ['users'],
      summary: 'Confirm the pending secret with a code: TOTP is on, and the recovery codes are answered once',
      security: [{ bearerAuth: [] }],
      body: TotpConfirmBody,
      response: {
        200: ref(RecoveryCodes, 'TOTP is on; ten single-use recovery codes, shown only now'),
        ...errors(mfaCodeInvalid({ status: 400 }), 'TOTP_NOT_PENDING')
      }
    }
  }, async (request) => fastify.totp.confirm(request.user.user_id, request.body.code, requestContext(request)))

  fastify.delete('/', {
    onRequest: [fastify.requirePermission(Permission.User), fastify.admitPasswordWork],
    schema: {
      tags: ['users'],
      summary: 'Turn TOTP off: the password and a code (or a recovery code)',
      security: [{ bearerAuth: [] }],
      body: TotpDisableBody,
      response: {
        204: Type.Null({ description: 'TOTP is off; its secret and recovery codes are gone' }),
        ...errors('USER_NOT_FOUND', wrongCurrentPassword(), 'MFA_CODE_INVALID', 'TOO_MANY_SIGN_IN_FAILURES')
      }
    }
  }, async (request, reply) => {
    await fastify.totp.disable(request.user.user_id, request.body.password, request.body.code, requestContext(request))
    return reply.code(204).send(null)
  })
}

export default totp
