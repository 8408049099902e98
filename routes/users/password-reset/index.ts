import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { preValidationAsyncHookHandler } from 'fastify'
import { accepted } from '../../../src/http/accepted'
import { requestContext } from '../../../src/http/context'
import { errors } from '../../../src/http/errors'
import { PasswordResetBody, PasswordResetConfirmBody, normaliseEmail } from '../../../src/schemas/user'

/** The email is normalised before the schema checks it, as at sign-up. */
const normaliseEmailField: preValidationAsyncHookHandler = async (request) => {
  const body = request.body as { email?: unknown } | null | undefined
  if (typeof body === 'object' && body !== null && typeof body.email === 'string') body.email = normaliseEmail(body.email)
}

/** Account recovery by mail: anyone may ask; the token in the message sets a new password. */
const passwordReset: FastifyPluginAsyncTypebox = async (fastify) => {
  // The per-address limit of sign-in (AUTH_RATE_LIMIT) on both routes.
  const rateLimit = { max: fastify.config.authRateLimit, timeWindow: 60_000 }

  fastify.post('/', {
    config: { rateLimit },
    preValidation: normaliseEmailField,
    schema: {
      tags: ['users'],
      summary: 'Ask for a password-reset message; the same answer whether or not the address has an account',
      body: PasswordResetBody,
      response: {
        202: Type.Null({ description: 'Accepted, empty body: if the address has an account (and has not had 3 reset messages in 15 minutes), a message with a reset token goes to it' })
      }
    }
  }, async (request, reply) => {
    // Nothing about the account is looked at before the answer: it is carried out after.
    fastify.accounts.requestPasswordReset(request.body.email, requestContext(request))
    return accepted(reply)
  })

  fastify.post('/confirm', {
    config: { rateLimit },
    onRequest: [fastify.admitPasswordWork],
    schema: {
      tags: ['users'],
      summary: 'Set a new password with a reset token: every session ends, the address counts as verified',
      body: PasswordResetConfirmBody,
      response: {
        204: Type.Null({ description: 'The password is changed and every session of the account has ended' }),
        ...errors('RESET_TOKEN_INVALID', 'PASSWORD_TOO_COMMON', 'MFA_REQUIRED', 'MFA_CODE_INVALID', 'TOO_MANY_SIGN_IN_FAILURES')
      }
    }
  }, async (request, reply) => {
    const { token, new_password: newPassword, code } = request.body
    await fastify.accounts.confirmPasswordReset(token, newPassword, code, requestContext(request))
    return reply.code(204).send(null)
  })
}

export default passwordReset
