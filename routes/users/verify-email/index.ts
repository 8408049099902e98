import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { requestContext } from '../../../src/http/context'
import { errors } from '../../../src/http/errors'
import { VerifyEmailBody } from '../../../src/schemas/user'

/** POST /users/verify-email: anyone holding a verification token (from sign-up, a resend or an email change). */
const verifyEmail: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/', {
    schema: {
      tags: ['users'],
      summary: 'Use a verification token: the address it was sent to becomes the verified address of its account',
      body: VerifyEmailBody,
      response: {
        204: Type.Null({ description: 'Verified: after an email change, the account has the new address' }),
        ...errors('VERIFICATION_TOKEN_INVALID', 'EMAIL_TAKEN')
      }
    }
  }, async (request, reply) => {
    await fastify.accounts.verifyEmail(request.body.token, requestContext(request))
    return reply.code(204).send(null)
  })
}

export default verifyEmail
