import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, ServiceUnavailableError } from './domain/errors'
import { validationDetails, type Detail } from './validation'

interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
  details?: Detail[]
  request_id?: string
}

function body (statusCode: number, code: string, message: string, extra: Partial<ErrorBody> = {}): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message, ...extra }
}

/** Fastify's own client errors, with our codes and fixed sentences (never a parser's text). */
const FASTIFY_CODES: Record<string, [string, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'The request body is larger than 64 KiB'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_JSON', 'The body is empty but the content type is application/json'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_JSON', 'The request body is not valid JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['VALIDATION_ERROR', 'Content-Length does not match the body'],
  FST_ERR_CTP_INVALID_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'The content type is not valid'],
  FST_ERR_BAD_URL: ['VALIDATION_ERROR', 'The URL is not valid'],
  FST_ERR_ASYNC_CONSTRAINT: ['VALIDATION_ERROR', 'The request is not valid']
}

const STATUS_FALLBACK: Record<number, string> = {
  404: 'ROUTE_NOT_FOUND', 408: 'REQUEST_TIMEOUT', 413: 'PAYLOAD_TOO_LARGE', 414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE', 429: 'RATE_LIMITED', 431: 'HEADERS_TOO_LARGE'
}

export function errorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof AppError) {
    if (err instanceof ServiceUnavailableError) {
      request.log.error({ err: err.cause ?? err, service: err.service }, 'backing service unavailable')
    }
    return reply.code(err.statusCode).headers(err.headers)
      .send({ ...body(err.statusCode, err.code, err.message), ...err.fields })
  }

  if (err.validation !== undefined) {
    const part = err.validationContext ?? 'request'
    const details = validationDetails(err.validation)
    const first = details[0]
    const message = first === undefined ? `Invalid ${part}` : `${part}${first.path === '/' ? '' : first.path} ${first.message}`
    return reply.code(400).send(body(400, 'VALIDATION_ERROR', message, { details }))
  }

  const status = err.statusCode ?? 500
  if (status >= 400 && status < 500) {
    const known = FASTIFY_CODES[err.code]
    // A JSON syntax error from the parser has no FST_ code in every version: it is still a 400.
    // Anything else keeps to the contract's codes: its own where the status has one, else VALIDATION_ERROR.
    const [code, message] = known ?? (err instanceof SyntaxError
      ? ['INVALID_JSON', 'The request body is not valid JSON']
      : [STATUS_FALLBACK[status] ?? 'VALIDATION_ERROR', STATUS_CODES[status] ?? 'Bad request'])
    return reply.code(status).send(body(status, code, message))
  }

  // Anything else is ours to fix: the client gets the request id, the log gets the truth.
  request.log.error({ err }, 'unhandled error')
  return reply.code(500).send(body(500, 'INTERNAL_ERROR', 'Something went wrong on our side; quote the request id when reporting it', {
    request_id: request.id
  }))
}

export function notFoundHandler (request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send(body(404, 'ROUTE_NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0] ?? ''} not found`))
}
