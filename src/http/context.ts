import type { FastifyRequest } from 'fastify'
import type { RequestContext } from '../domain/context'
import type { TokenClaims } from '../schemas/token'

/** The request as services record it: address, request id, and the signed-in user if any. */
export function requestContext (request: FastifyRequest): RequestContext {
  // request.user is set only by requirePermission: a public route's is absent.
  const user = (request as { user?: { user_id?: unknown } }).user
  return { ip: request.ip, requestId: request.id, actorId: typeof user?.user_id === 'number' ? user.user_id : null }
}

/**
 * The signed-in user's token claims, session included, on a route that refuses API keys
 * (requirePermission's rule). A key reaching it is the route's fault: a 500, never a session
 * id of undefined.
 */
export function sessionOf (request: FastifyRequest): TokenClaims {
  const user = request.user
  if ('sid' in user) return user
  throw new Error('an API key request has no session: this route must refuse keys (requirePermission\'s apiKeys)')
}
