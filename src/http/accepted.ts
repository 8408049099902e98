import type { FastifyReply } from 'fastify'

/**
 * 202 with an empty body (the contract's "202, empty body"): the route's typed reply would
 * serialize its null schema as `null`, so the answer is sent through the untyped reply.
 */
export function accepted (reply: FastifyReply): FastifyReply {
  return reply.code(202).send()
}
