import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { preValidationAsyncHookHandler } from 'fastify'
import { lastAdmin } from '../../src/domain/errors'
import { Permission } from '../../src/domain/permission'
import { requestContext, sessionOf } from '../../src/http/context'
import { IdParams, LOCATION, PageQuery, listOf, ref } from '../../src/schemas/common'
import { errors } from '../../src/http/errors'
import { RefreshBody } from '../../src/schemas/session'
import { TokenResponse } from '../../src/schemas/token'
import { Account, PermissionBody, SignInBody, SignUpBody, User, normaliseEmail } from '../../src/schemas/user'

/** The email is normalised before the schema checks it, so the schema checks what is stored and compared. */
const normaliseEmailField: preValidationAsyncHookHandler = async (request) => {
  const body = request.body as { email?: unknown } | null | undefined
  if (typeof body === 'object' && body !== null && typeof body.email === 'string') body.email = normaliseEmail(body.email)
}

const users: FastifyPluginAsyncTypebox = async (fastify) => {
  const rateLimit = { max: fastify.config.authRateLimit, timeWindow: 60_000 }

  fastify.post('/', {
    config: { rateLimit },
    onRequest: [fastify.admitPasswordWork],
    preValidation: normaliseEmailField,
    schema: {
      tags: ['users'],
      summary: 'Sign up (every new account is a User); a message with a verification token goes to the address',
      body: SignUpBody,
      response: {
        201: ref(Account, 'The new account, at permission level User', LOCATION),
        ...errors('PASSWORD_TOO_COMMON', 'EMAIL_TAKEN')
      }
    }
  }, async (request, reply) => {
    const user = await fastify.users.signUp(request.body.email, request.body.password, requestContext(request))
    request.log.info({ userId: user.id }, 'user signed up')
    return reply.code(201).header('location', `/users/${user.id}`).send({ id: user.id, email: user.email })
  })

  fastify.post('/sign-in', {
    config: { rateLimit },
    onRequest: [fastify.admitPasswordWork],
    preValidation: normaliseEmailField,
    schema: {
      tags: ['users'],
      summary: 'Sign in: starts a session, answers an access token and a refresh token',
      body: SignInBody,
      response: {
        200: ref(TokenResponse, 'An access token, a refresh token, and whom they are for'),
        ...errors('INVALID_CREDENTIALS', 'MFA_REQUIRED', 'MFA_CODE_INVALID', 'TOO_MANY_SIGN_IN_FAILURES')
      }
    }
  }, async (request) => {
    const { tokens, sessionId } = await fastify.auth.signIn(request.body.email, request.body.password, request.body.code, requestContext(request))
    request.log.info({ userId: tokens.user.id, sessionId }, 'signed in')
    return tokens
  })

  fastify.post('/refresh', {
    config: { rateLimit },
    schema: {
      tags: ['users'],
      summary: 'Spend a refresh token for a new pair, with the current level; a spent one ends the session',
      body: RefreshBody,
      response: {
        200: ref(TokenResponse, 'A new access token and refresh token for the same session'),
        ...errors('REFRESH_TOKEN_INVALID', 'REFRESH_TOKEN_REUSED')
      }
    }
  }, async (request) => {
    return (await fastify.auth.refresh(request.body.refresh_token, requestContext(request))).tokens
  })

  fastify.post('/sign-out', {
    onRequest: [fastify.requirePermission(Permission.User, { allowUnverified: true })],
    schema: {
      tags: ['users'],
      summary: "End the session of this request's token",
      security: [{ bearerAuth: [] }],
      response: { 204: Type.Null({ description: 'Signed out: the session and its tokens are ended' }) }
    }
  }, async (request, reply) => {
    const { user_id: userId, sid } = sessionOf(request)
    await fastify.sessions.signOut(userId, sid, sid, requestContext(request))
    request.log.info({ userId, sessionId: sid }, 'signed out')
    return reply.code(204).send(null)
  })

  fastify.get('/', {
    onRequest: [fastify.requirePermission(Permission.Admin)],
    schema: {
      tags: ['users'],
      summary: 'List users by id, optionally matching the email (Admin)',
      security: [{ bearerAuth: [] }],
      querystring: PageQuery,
      response: { 200: listOf(User, 'A page of users, by id') }
    }
  }, async (request) => {
    const { o = 0, limit = fastify.config.pageSize, q } = request.query
    return fastify.users.list({ offset: o, limit, q })
  })

  fastify.get('/:id', {
    onRequest: [fastify.requirePermission(Permission.Admin)],
    schema: {
      tags: ['users'],
      summary: 'One user (Admin)',
      security: [{ bearerAuth: [] }],
      params: IdParams,
      response: { 200: ref(User, 'The user, with its permission level'), ...errors('USER_NOT_FOUND') }
    }
  }, async (request) => fastify.users.get(request.params.id))

  fastify.patch('/:id', {
    onRequest: [fastify.requirePermission(Permission.Admin)],
    schema: {
      tags: ['users'],
      summary: "Set a user's permission level (Admin); applies to that user's next request",
      security: [{ bearerAuth: [] }],
      params: IdParams,
      body: PermissionBody,
      response: { 200: ref(User, 'The user at its new level'), ...errors('USER_NOT_FOUND', 'CANNOT_LOWER_OWN_PERMISSION', 'LAST_ADMIN') }
    }
  }, async (request) => {
    const user = await fastify.users.setPermission(request.user.user_id, request.params.id, request.body.permission, requestContext(request))
    request.log.info({ userId: user.id, permission: user.permission, by: request.user.user_id }, 'permission changed')
    return user
  })

  fastify.delete('/:id', {
    onRequest: [fastify.requirePermission(Permission.Admin)],
    schema: {
      tags: ['users'],
      summary: 'Delete a user and everything that names it (Admin), as DELETE /users/me does',
      security: [{ bearerAuth: [] }],
      params: IdParams,
      response: {
        204: Type.Null({ description: 'Deleted: the account, its sessions, reviews and pending tokens and mail are gone; the address is free' }),
        ...errors('USER_NOT_FOUND', lastAdmin('deleted'))
      }
    }
  }, async (request, reply) => {
    await fastify.leaving.deleteUser(request.params.id, requestContext(request))
    return reply.code(204).send(null)
  })
}

export default users
