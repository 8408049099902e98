import fp from 'fastify-plugin'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { emailNotVerified, forbidden, tokenExpired, tokenRequired, tokenRevoked, tokenUndecodable } from '../../src/domain/errors'
import { Permission } from '../../src/domain/permission'
import { TokenClaims } from '../../src/schemas/token'
import { CLOCK_TOLERANCE_MS, keyId } from '../external/jwt'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * An onRequest hook admitting a valid token of a live session whose user's stored level is
     * at least `level`. It sets `request.user`, with `permission` the stored level. With
     * REQUIRE_VERIFIED_EMAIL on, a user whose address is not verified is 403
     * EMAIL_NOT_VERIFIED, unless the route says `{ allowUnverified: true }` (the routes an
     * unverified user needs to verify, look at, secure or leave the account).
     */
    requirePermission (level: Permission, options?: PermissionOptions): onRequestAsyncHookHandler
    /**
     * An onRequest hook for every route that hashes or verifies a password: a full argon2
     * queue sheds the request (503) before its body is read or validated, so a flood of shed
     * requests stays cheap. After requirePermission where both apply (401 before 503).
     */
    admitPasswordWork: onRequestAsyncHookHandler
  }
}

export interface PermissionOptions {
  /** Admit a user whose address is not verified even with REQUIRE_VERIFIED_EMAIL on. */
  allowUnverified?: boolean
}

const BEARER = /^bearer\s+(\S+)\s*$/i

/** The one claims schema, compiled: a verified payload of any other shape is refused. */
const claimsCheck = TypeCompiler.Compile(TokenClaims)

/** The `kid` of a token's header, or undefined for any header that is not a JSON object naming one. */
function headerKid (token: string): string | undefined {
  const dot = token.indexOf('.')
  if (dot <= 0) return undefined
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'))
    if (typeof header !== 'object' || header === null) return undefined
    const kid = (header as { kid?: unknown }).kid
    return typeof kid === 'string' ? kid : undefined
  } catch {
    return undefined
  }
}

/**
 * Token checks in the contract's words. Every failure of @fastify/jwt / fast-jwt (bad
 * signature, other algorithm, `alg: none`, `nbf` ahead, malformed parts, wrong claim types),
 * a missing or unknown `kid`, an `iat` ahead of the clock, a missing `sid`: a 401 "failed to
 * decode token"; an expired token "invalid token"; an ended session TOKEN_REVOKED.
 */
export default fp(async function authPlugin (fastify) {
  const { jwtSecret, jwtPreviousSecrets } = fastify.config
  const currentKid = keyId(jwtSecret)
  // The previous secrets verify only; each is chosen by its kid, so none is tried in turn.
  const previous = new Map(jwtPreviousSecrets.map((secret) => [keyId(secret), secret]))
  previous.delete(currentKid)

  function authenticate (request: FastifyRequest): TokenClaims {
    const header = request.headers.authorization
    const match = header === undefined ? null : BEARER.exec(header)
    if (match?.[1] === undefined) {
      if (header === undefined || !/^bearer\s+\S/i.test(header)) throw tokenRequired()
      throw tokenUndecodable()
    }
    const token = match[1]
    const kid = headerKid(token)
    const key = kid === currentKid ? undefined : kid === undefined ? null : previous.get(kid) ?? null
    if (key === null) throw tokenUndecodable()
    let claims: unknown
    try {
      claims = key === undefined ? fastify.jwt.verify(token) : fastify.jwt.verify(token, { key })
    } catch (err) {
      if ((err as { code?: string }).code === 'FAST_JWT_EXPIRED') throw tokenExpired()
      throw tokenUndecodable()
    }
    if (!claimsCheck.Check(claims)) throw tokenUndecodable()
    // fast-jwt does not look at an iat ahead of the clock: a token from the future is forged or skewed.
    if (claims.iat * 1000 > Date.now() + CLOCK_TOLERANCE_MS) throw tokenUndecodable()
    return claims
  }

  const { requireVerifiedEmail } = fastify.config

  fastify.decorate('requirePermission', function requirePermission (level: Permission, options: PermissionOptions = {}): onRequestAsyncHookHandler {
    const verifiedOnly = requireVerifiedEmail && options.allowUnverified !== true && level >= Permission.User
    return async function permissionHook (request) {
      const claims = authenticate(request)
      // The level and the session as stored now, not as the token says: one lookup.
      const access = await fastify.sessions.access(claims.sid)
      if (access === undefined || access.ended || access.user_id !== claims.user_id || Date.parse(access.expires_at) <= Date.now()) {
        throw tokenRevoked()
      }
      request.user = { ...claims, permission: access.permission }
      if (access.permission < level) throw forbidden()
      // Read by the same lookup as the level: the rule costs no query of its own.
      if (verifiedOnly && !access.email_verified) throw emailNotVerified()
    }
  })

  fastify.decorate('admitPasswordWork', async function admitPasswordWork () {
    fastify.auth.admitPasswordWork()
  })
}, { name: 'auth', dependencies: ['jwt', 'services'] })
