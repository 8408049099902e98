import type { FastifyRequest } from 'fastify'
import type { RequestContext } from '../domain/context'

/** The request as services record it: address, request id, and the signed-in user if any. */
export function requestContext (request: FastifyRequest): RequestContext {
  // request.user is set only by requirePermission: a public route's is absent.
  const user = (request as { user?: { user_id?: unknown } }).user
  return { ip: request.ip, requestId: request.id, actorId: typeof user?.user_id === 'number' ? user.user_id : null }
}
