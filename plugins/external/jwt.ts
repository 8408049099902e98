import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { AccessClaims, RequestUser } from '../../src/schemas/token'

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessClaims
    /**
     * Set by requirePermission (plugins/app/auth.ts): a verified token's claims, its session
     * live, or an API key's principal; `permission` is the level in force, not the claim.
     */
    user: RequestUser
  }
}

/** Skew allowed between this clock and the signer's, in milliseconds (exp, nbf, and an iat ahead). */
export const CLOCK_TOLERANCE_MS = 5_000

/** A key's public name, the JWT header's `kid`: the first 16 hex digits of its SHA-256, never the secret. */
export const keyId = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex').slice(0, 16)

/**
 * @fastify/jwt with verification pinned: only HS256, `exp` and `iat` required, a few seconds
 * of skew. Its defaults accept HS512 and tokens without `exp`. It signs with JWT_SECRET and
 * names it in the `kid` header; plugins/app/auth.ts picks the verifying key by that `kid`.
 */
export default fp(async function jwtPlugin (fastify) {
  const { jwtSecret, accessTokenMinutes } = fastify.config
  await fastify.register(fastifyJwt, {
    secret: jwtSecret,
    sign: { algorithm: 'HS256', expiresIn: accessTokenMinutes * 60, kid: keyId(jwtSecret) },
    verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'iat'], clockTolerance: CLOCK_TOLERANCE_MS }
  })
}, { name: 'jwt', dependencies: ['config'] })
