import type { preValidationAsyncHookHandler } from 'fastify'

/**
 * For routes that take "no body or `{}`": a request without a body is validated as `{}`, so
 * the body schema can stay an object (and say so in the OpenAPI document) while anything
 * else sent is still refused.
 */
export const noBodyAsEmpty: preValidationAsyncHookHandler = async (request) => {
  if (request.body === undefined || request.body === null) request.body = {}
}
