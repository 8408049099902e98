import fp from 'fastify-plugin'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { emailNotVerified, forbidden, tokenExpired, tokenRequired, tokenRevoked, tokenUndecodable } from '../../src/domain/errors'
import { Permission } from '../../src/domain/permission'
import { rateLimited, REFUSES_UNVERIFIED } from '../../src/http/errors'
import { API_KEY_PREFIX } from '../../src/services/api-keys'
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
     *
     * An API key (`Bearer bsk_...`) acts as its user at the lower of its permission and the
     * user's current level, counted against API_KEY_RATE_LIMIT. Whether the route takes keys
     * is `options.apiKeys`; unset, the contract's rule decides (acceptsApiKeys): every route
     * but the account's own under /users/me (GET /users/me aside) and sign-out. For a key,
     * `request.user` is {user_id, user_name, permission, api_key_id}, without a session: the
     * handlers that need one read it through sessionOf, on routes a key never reaches.
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
  /**
   * Whether an API key may call the route (else 403 FORBIDDEN to a key). Unset: the
   * contract's rule by the route's path (acceptsApiKeys), so a new account route under
   * /users/me refuses keys without having to say so.
   */
  apiKeys?: boolean
}

/**
 * The contract's rule: a key may call every route except those under /users/me other than
 * GET /users/me itself (password, email, sessions, second factors, keys, export, deletion),
 * and sign-out. By the path, not a list: an account route added later refuses keys too.
 */
export function acceptsApiKeys (method: string, url: string): boolean {
  if (url === '/users/sign-out') return false
  if (url === '/users/me' || url === '/users/me/') return method === 'GET' || method === 'HEAD'
  return !url.startsWith('/users/me/')
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

  /** The bearer credential of the request: a token or an API key. */
  function bearer (request: FastifyRequest): string {
    const header = request.headers.authorization
    const match = header === undefined ? null : BEARER.exec(header)
    if (match?.[1] === undefined) {
      if (header === undefined || !/^bearer\s+\S/i.test(header)) throw tokenRequired()
      throw tokenUndecodable()
    }
    return match[1]
  }

  function authenticate (token: string): TokenClaims {
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
    const mayRefuseUnverified = options.allowUnverified !== true && level >= Permission.User
    const verifiedOnly = requireVerifiedEmail && mayRefuseUnverified
    // The OpenAPI document reads the mark (src/http/openapi.ts): EMAIL_NOT_VERIFIED is among
    // the route's answers whatever this deployment's setting, as the document is the same for all.
    return Object.assign(async function permissionHook (request: FastifyRequest) {
      const credential = bearer(request)
      if (credential.startsWith(API_KEY_PREFIX)) {
        const principal = await fastify.apiKeys.authenticate(credential)
        const retryMs = await fastify.apiKeys.spend(principal.api_key_id)
        if (retryMs !== undefined) throw rateLimited(retryMs)
        if (!(options.apiKeys ?? acceptsApiKeys(request.method, request.routeOptions.url ?? ''))) throw forbidden()
        request.user = { user_id: principal.user_id, user_name: principal.user_name, permission: principal.permission, api_key_id: principal.api_key_id }
        if (principal.permission < level) throw forbidden()
        if (verifiedOnly && !principal.email_verified) throw emailNotVerified()
        return
      }
      const claims = authenticate(credential)
      // The level and the session as stored now, not as the token says: one lookup.
      const access = await fastify.sessions.access(claims.sid)
      if (access === undefined || access.ended || access.user_id !== claims.user_id || Date.parse(access.expires_at) <= Date.now()) {
        throw tokenRevoked()
      }
      request.user = { ...claims, permission: access.permission }
      if (access.permission < level) throw forbidden()
      // Read by the same lookup as the level: the rule costs no query of its own.
      if (verifiedOnly && !access.email_verified) throw emailNotVerified()
    }, { [REFUSES_UNVERIFIED]: mayRefuseUnverified })
  })

  fastify.decorate('admitPasswordWork', async function admitPasswordWork () {
    fastify.auth.admitPasswordWork()
  })
}, { name: 'auth', dependencies: ['jwt', 'services'] })
