import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import { requestContext } from '../../../../src/http/context'
import { noBodyAsEmpty } from '../../../../src/http/empty-body'
import { errors } from '../../../../src/http/errors'
import { ref } from '../../../../src/schemas/common'
import { NoOptionsBody, PasskeySignInBody, RequestOptions } from '../../../../src/schemas/passkey'
import { TokenResponse } from '../../../../src/schemas/token'

/** Sign-in with a discoverable passkey: options, then the assertion. Each route has its own per-address limit. */
const passkeySignIn: FastifyPluginAsyncTypebox = async (fastify) => {
  const rateLimit = { max: fastify.config.authRateLimit, timeWindow: 60_000 }

  fastify.post('/options', {
    preValidation: noBodyAsEmpty,
    config: { rateLimit },
    schema: {
      tags: ['users'],
      summary: 'Request options for a passkey sign-in (discoverable: no credentials listed)',
      body: NoOptionsBody,
      response: { 200: ref(RequestOptions, 'PublicKeyCredentialRequestOptionsJSON with a single-use challenge, good for 5 minutes') }
    }
  }, async () => fastify.passkeys.signInOptions())

  fastify.post('/', {
    config: { rateLimit },
    schema: {
      tags: ['users'],
      summary: 'Sign in with a passkey: starts a session, as a password sign-in does (no TOTP code needed)',
      body: PasskeySignInBody,
      response: {
        200: ref(TokenResponse, 'An access token, a refresh token, and whom they are for'),
        ...errors('INVALID_CREDENTIALS')
      }
    }
  }, async (request) => {
    const credential = request.body.credential as unknown as AuthenticationResponseJSON
    const { tokens, sessionId } = await fastify.passkeys.signIn(credential, requestContext(request))
    request.log.info({ userId: tokens.user.id, sessionId }, 'signed in with a passkey')
    return tokens
  })
}

export default passkeySignIn
