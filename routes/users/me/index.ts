import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { preValidationAsyncHookHandler } from 'fastify'
import { lastAdmin, wrongCurrentPassword } from '../../../src/domain/errors'
import { Permission } from '../../../src/domain/permission'
import { listOf, ref, type HeaderDoc } from '../../../src/schemas/common'
import { accepted } from '../../../src/http/accepted'
import { requestContext, sessionOf } from '../../../src/http/context'
import { errors } from '../../../src/http/errors'
import { PasswordChangeBody, Session, SessionIdParams } from '../../../src/schemas/session'
import { AccountExport, DeleteAccountBody, EmailChangeBody, User, normaliseEmail } from '../../../src/schemas/user'

const ATTACHMENT: Record<string, HeaderDoc> = {
  'Content-Disposition': { type: 'string', description: 'attachment; filename="bookstore-export.json"' }
}

/** The new address is normalised before the schema checks it, as at sign-up. */
const normaliseNewEmail: preValidationAsyncHookHandler = async (request) => {
  const body = request.body as { new_email?: unknown } | null | undefined
  if (typeof body === 'object' && body !== null && typeof body.new_email === 'string') body.new_email = normaliseEmail(body.new_email)
}

/**
 * The signed-in user's own account: who they are, their password, address and sessions, and
 * leaving. The routes an unverified user needs to look at, verify, secure, move or delete the
 * account say `allowUnverified` (REQUIRE_VERIFIED_EMAIL).
 */
const me: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    onRequest: [fastify.requirePermission(Permission.User, { allowUnverified: true })],
    schema: {
      tags: ['users'],
      summary: 'The signed-in user',
      security: [{ bearerAuth: [] }],
      response: { 200: ref(User, 'The signed-in user, with its permission level'), ...errors('USER_NOT_FOUND') }
    }
  }, async (request) => fastify.users.get(request.user.user_id))

  fastify.put('/password', {
    onRequest: [fastify.requirePermission(Permission.User), fastify.admitPasswordWork],
    schema: {
      tags: ['users'],
      summary: 'Change the password; every other session ends',
      security: [{ bearerAuth: [] }],
      body: PasswordChangeBody,
      response: {
        204: Type.Null({ description: 'Changed; this session stays, every other one has ended' }),
        ...errors('USER_NOT_FOUND', wrongCurrentPassword(), 'PASSWORD_TOO_COMMON', 'TOO_MANY_SIGN_IN_FAILURES')
      }
    }
  }, async (request, reply) => {
    const { user_id: userId, sid } = sessionOf(request)
    await fastify.users.changePassword(userId, sid, request.body.current_password, request.body.new_password, requestContext(request))
    return reply.code(204).send(null)
  })

  fastify.post('/verify-email', {
    onRequest: [fastify.requirePermission(Permission.User, { allowUnverified: true })],
    schema: {
      tags: ['users'],
      summary: 'Send a new verification message (earlier tokens stop working); at most 5 an hour',
      security: [{ bearerAuth: [] }],
      response: {
        202: Type.Null({ description: 'Accepted, empty body: a message with a new verification token goes to the address' }),
        ...errors('USER_NOT_FOUND', 'EMAIL_ALREADY_VERIFIED', 'TOO_MANY_EMAILS')
      }
    }
  }, async (request, reply) => {
    await fastify.accounts.resendVerification(request.user.user_id)
    return accepted(reply)
  })

  fastify.post('/email', {
    onRequest: [fastify.requirePermission(Permission.User, { allowUnverified: true }), fastify.admitPasswordWork],
    preValidation: normaliseNewEmail,
    schema: {
      tags: ['users'],
      summary: 'Ask to move the account to another address: a token goes to it, a notice to the current one',
      security: [{ bearerAuth: [] }],
      body: EmailChangeBody,
      response: {
        202: Type.Null({ description: 'Accepted, empty body: the email changes once the token sent to the new address is used' }),
        ...errors('USER_NOT_FOUND', wrongCurrentPassword(), 'TOO_MANY_SIGN_IN_FAILURES', 'EMAIL_TAKEN')
      }
    }
  }, async (request, reply) => {
    await fastify.accounts.requestEmailChange(request.user.user_id, request.body.password, request.body.new_email)
    return accepted(reply)
  })

  fastify.get('/sessions', {
    onRequest: [fastify.requirePermission(Permission.User, { allowUnverified: true })],
    schema: {
      tags: ['users'],
      summary: "The signed-in user's live sessions, newest first",
      security: [{ bearerAuth: [] }],
      response: { 200: listOf(Session, 'Live sessions, newest first; `current` marks this one') }
    }
  }, async (request) => fastify.sessions.list(request.user.user_id, sessionOf(request).sid))

  fastify.delete('/sessions', {
    onRequest: [fastify.requirePermission(Permission.User, { allowUnverified: true })],
    schema: {
      tags: ['users'],
      summary: 'End every session of the signed-in user, this one too',
      security: [{ bearerAuth: [] }],
      response: { 204: Type.Null({ description: 'Every session has ended' }) }
    }
  }, async (request, reply) => {
    const ended = await fastify.sessions.signOutEverywhere(request.user.user_id, requestContext(request))
    request.log.info({ userId: request.user.user_id, sessionsEnded: ended }, 'every session ended')
    return reply.code(204).send(null)
  })

  fastify.delete('/sessions/:id', {
    onRequest: [fastify.requirePermission(Permission.User, { allowUnverified: true })],
    schema: {
      tags: ['users'],
      summary: 'End one of the signed-in user\'s sessions',
      security: [{ bearerAuth: [] }],
      params: SessionIdParams,
      response: { 204: Type.Null({ description: 'The session has ended' }), ...errors('SESSION_NOT_FOUND') }
    }
  }, async (request, reply) => {
    await fastify.sessions.signOut(request.user.user_id, request.params.id, sessionOf(request).sid, requestContext(request))
    request.log.info({ userId: request.user.user_id, sessionId: request.params.id }, 'session ended')
    return reply.code(204).send(null)
  })

  fastify.get('/export', {
    onRequest: [fastify.requirePermission(Permission.User)],
    schema: {
      tags: ['users'],
      summary: 'Download everything the service holds about the signed-in user',
      security: [{ bearerAuth: [] }],
      response: { 200: ref(AccountExport, 'The account, its live sessions and every review it wrote, as a file to save', ATTACHMENT), ...errors('USER_NOT_FOUND') }
    }
  }, async (request, reply) => {
    const data = await fastify.leaving.export(request.user.user_id, sessionOf(request).sid)
    return reply.header('content-disposition', 'attachment; filename="bookstore-export.json"').send(data)
  })

  fastify.delete('/', {
    onRequest: [fastify.requirePermission(Permission.User, { allowUnverified: true }), fastify.admitPasswordWork],
    schema: {
      tags: ['users'],
      summary: 'Delete the signed-in user\'s account and everything that names it; the password is asked again',
      security: [{ bearerAuth: [] }],
      body: DeleteAccountBody,
      response: {
        204: Type.Null({ description: 'Deleted: the account, its sessions, reviews and pending tokens and mail are gone; the address is free' }),
        ...errors('USER_NOT_FOUND', wrongCurrentPassword(), 'TOO_MANY_SIGN_IN_FAILURES', lastAdmin('deleted'))
      }
    }
  }, async (request, reply) => {
    await fastify.leaving.deleteOwn(request.user.user_id, request.body.password, requestContext(request))
    return reply.code(204).send(null)
  })
}

export default me
