import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { preValidationAsyncHookHandler } from 'fastify'
import { Permission } from '../../src/domain/permission'
import { IdParams, LOCATION, ref } from '../../src/schemas/common'
import { errors } from '../../src/schemas/error'
import { TokenResponse } from '../../src/schemas/token'
import { Account, PermissionBody, SignInBody, SignUpBody, User } from '../../src/schemas/user'

/** Emails are trimmed before the schema checks their format; the service lower-cases them. */
const trimEmail: preValidationAsyncHookHandler = async (request) => {
  const body = request.body as { email?: unknown } | null | undefined
  if (typeof body === 'object' && body !== null && typeof body.email === 'string') body.email = body.email.trim()
}

const users: FastifyPluginAsyncTypebox = async (fastify) => {
  const rateLimit = { max: fastify.config.authRateLimit, timeWindow: 60_000 }

  fastify.post('/', {
    config: { rateLimit },
    preValidation: trimEmail,
    schema: {
      tags: ['users'],
      summary: 'Sign up (every new account is a User)',
      body: SignUpBody,
      response: {
        201: ref(Account, 'The new account, at permission level User', LOCATION),
        ...errors(400, 409, 413, 415, 429)
      }
    }
  }, async (request, reply) => {
    const user = await fastify.users.signUp(request.body.email, request.body.password)
    request.log.info({ userId: user.id }, 'user signed up')
    return reply.code(201).header('location', `/users/${user.id}`).send({ id: user.id, email: user.email })
  })

  fastify.post('/sign-in', {
    config: { rateLimit },
    preValidation: trimEmail,
    schema: {
      tags: ['users'],
      summary: 'Sign in for a bearer token',
      body: SignInBody,
      response: {
        200: ref(TokenResponse, 'A bearer token, and whom it is for'),
        ...errors(400, 401, 413, 415, 429)
      }
    }
  }, async (request) => {
    const user = await fastify.users.signIn(request.body.email, request.body.password)
    return { token: await fastify.issueToken(user), user: { id: user.id, email: user.email } }
  })

  fastify.get('/me', {
    onRequest: [fastify.requirePermission(Permission.User)],
    schema: {
      tags: ['users'],
      summary: 'The signed-in user',
      security: [{ bearerAuth: [] }],
      response: { 200: ref(User, 'The signed-in user, with its permission level'), ...errors(401, 403, 404) }
    }
  }, async (request) => fastify.users.get(request.user.user_id))

  fastify.patch('/:id', {
    onRequest: [fastify.requirePermission(Permission.Admin)],
    schema: {
      tags: ['users'],
      summary: "Set a user's permission level (Admin)",
      security: [{ bearerAuth: [] }],
      params: IdParams,
      body: PermissionBody,
      response: { 200: ref(User, 'The user at its new level'), ...errors(400, 401, 403, 404, 409, 413, 415) }
    }
  }, async (request) => {
    const user = await fastify.users.setPermission(request.user.user_id, request.params.id, request.body.permission)
    request.log.info({ userId: user.id, permission: user.permission, by: request.user.user_id }, 'permission changed')
    return user
  })
}

export default users
