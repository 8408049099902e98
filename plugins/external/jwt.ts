import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { Permission } from '../../src/domain/permission'

/** The claims the contract names (the Flask design's), plus `iat`/`exp` that the signer adds. */
export interface TokenClaims {
  user_id: number
  user_name: string
  permission: Permission
  jti: string
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenClaims
    user: TokenClaims & { iat: number, exp: number }
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
