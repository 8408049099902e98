import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { forbidden, tokenExpired, tokenRequired, tokenUndecodable } from '../../src/domain/errors'
import type { Permission } from '../../src/domain/permission'
import { TokenClaims } from '../../src/schemas/token'
import type { User } from '../../src/schemas/user'

declare module 'fastify' {
  interface FastifyInstance {
    /** An onRequest hook admitting a valid token of at least `level`. */
    requirePermission (level: Permission): onRequestAsyncHookHandler
    issueToken (user: User): Promise<string>
  }
}

const BEARER = /^bearer\s+(\S+)\s*$/i

/** The one claims schema, compiled: a verified payload of any other shape is refused. */
const claimsCheck = TypeCompiler.Compile(TokenClaims)

/**
 * Token checks in the contract's words. Every failure of @fastify/jwt / fast-jwt (bad
 * signature, other algorithm, `alg: none`, `nbf` ahead, malformed parts, wrong claim types)
 * is a 401: only an expired token says "invalid token"; the rest "failed to decode token".
 */
export default fp(async function authPlugin (fastify) {
  function authenticate (request: FastifyRequest): void {
    const header = request.headers.authorization
    const match = header === undefined ? null : BEARER.exec(header)
    if (match?.[1] === undefined) {
      if (header === undefined || !/^bearer\s+\S/i.test(header)) throw tokenRequired()
      throw tokenUndecodable()
    }
    let claims: unknown
    try {
      claims = fastify.jwt.verify(match[1])
    } catch (err) {
      if ((err as { code?: string }).code === 'FAST_JWT_EXPIRED') throw tokenExpired()
      throw tokenUndecodable()
    }
    if (!claimsCheck.Check(claims)) throw tokenUndecodable()
    request.user = claims
  }

  fastify.decorate('requirePermission', function requirePermission (level: Permission): onRequestAsyncHookHandler {
    return async function permissionHook (request) {
      authenticate(request)
      if (request.user.permission < level) throw forbidden()
    }
  })

  fastify.decorate('issueToken', async function issueToken (user: User): Promise<string> {
    return fastify.jwt.sign({ user_id: user.id, user_name: user.email, permission: user.permission, jti: randomUUID() })
  })
}, { name: 'auth', dependencies: ['jwt'] })
