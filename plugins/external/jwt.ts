import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { TokenClaims } from '../../src/schemas/token'

declare module '@fastify/jwt' {
  interface FastifyJWT {
    /** What the service signs; the signer adds `iat` and `exp`. */
    payload: Omit<TokenClaims, 'iat' | 'exp'>
    /** A verified token whose claims passed the TokenClaims schema (plugins/app/auth.ts). */
    user: TokenClaims
  }
}

/** Skew allowed between this clock and the signer's, in milliseconds. */
export const CLOCK_TOLERANCE_MS = 5_000

/**
 * @fastify/jwt with verification pinned: only HS256, `exp` and `iat` required, a few seconds
 * of skew. Its defaults accept HS512 and tokens without `exp`.
 */
export default fp(async function jwtPlugin (fastify) {
  const { jwtSecret, tokenHours } = fastify.config
  await fastify.register(fastifyJwt, {
    secret: jwtSecret,
    sign: { algorithm: 'HS256', expiresIn: Math.round(tokenHours * 3600) },
    verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'iat'], clockTolerance: CLOCK_TOLERANCE_MS }
  })
}, { name: 'jwt', dependencies: ['config'] })
