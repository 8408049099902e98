import { Type, type TSchema } from '@sinclair/typebox'
import { ERROR_CODES, type ErrorCode } from '../domain/errors'
import { ServiceStates, idOf, type HeaderDoc } from './common'

/** Every error, Fastify's own included, answers this shape (src/error-handler.ts). */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  code: Type.Unsafe<ErrorCode>({ type: 'string', enum: [...ERROR_CODES], description: 'Stable machine-readable code, e.g. TOKEN_REQUIRED' }),
  error: Type.String({ description: 'The HTTP reason phrase' }),
  message: Type.String({ description: 'A human sentence' }),
  details: Type.Optional(Type.Array(Type.Object({
    path: Type.String({ description: 'JSON pointer into the request part' }),
    message: Type.String()
  }))),
  request_id: Type.Optional(Type.String({ description: 'Set on 5xx: quote it when reporting the problem' }))
}, { $id: 'ErrorResponse', title: 'ErrorResponse' })

/**
 * Readiness's 503: the one error shape, plus the state of each configured service when they
 * were checked (NOT_READY); SERVICE_UNAVAILABLE while shutting down or shedding load has none.
 */
export const NotReadyResponse = Type.Intersect([
  Type.Ref(idOf(ErrorResponse)),
  Type.Object({ services: Type.Optional(ServiceStates) })
], { $id: 'NotReadyResponse', title: 'NotReadyResponse' })

const ERROR_MEANINGS: Record<number, string> = {
  400: 'Invalid input: VALIDATION_ERROR (with details), INVALID_JSON, PASSWORD_TOO_COMMON',
  401: 'TOKEN_REQUIRED, TOKEN_INVALID ("failed to decode token"), TOKEN_EXPIRED or TOKEN_REVOKED ("invalid token"), ' +
    'REFRESH_TOKEN_INVALID or REFRESH_TOKEN_REUSED ("invalid token"), or INVALID_CREDENTIALS',
  403: 'FORBIDDEN: the token\'s level is too low, or the review is someone else\'s',
  404: 'The book, review, user or session does not exist',
  409: 'EMAIL_TAKEN, CANNOT_LOWER_OWN_PERMISSION, LAST_ADMIN, or IDEMPOTENCY_KEY_IN_USE (the first request with this key is still being processed)',
  413: 'PAYLOAD_TOO_LARGE: the body is over 64 KiB',
  414: 'URI_TOO_LONG: a path parameter over 100 characters, or a URL over 2,048',
  415: 'UNSUPPORTED_MEDIA_TYPE: send application/json',
  422: 'IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was used with another body',
  429: 'RATE_LIMITED or TOO_MANY_SIGN_IN_FAILURES; see Retry-After',
  500: 'INTERNAL_ERROR: quote request_id when reporting it',
  503: 'SERVICE_UNAVAILABLE (or NOT_READY): a backing service is down; see Retry-After'
}

const RETRY_AFTER: Record<string, HeaderDoc> = { 'Retry-After': { type: 'string', description: 'Seconds to wait before retrying' } }
const ERROR_HEADERS: Record<number, Record<string, HeaderDoc>> = {
  401: { 'WWW-Authenticate': { type: 'string', description: 'Bearer, with error="invalid_token" when the token is bad or expired' } },
  429: RETRY_AFTER,
  503: RETRY_AFTER
}

/** One error status of a route, by reference to the one error shape. */
export const errorRef = (status: number, description = ERROR_MEANINGS[status] ?? 'Error', schema: TSchema = ErrorResponse) =>
  Type.Ref(idOf(schema), { description, ...(ERROR_HEADERS[status] === undefined ? {} : { headers: ERROR_HEADERS[status] }) })

/**
 * Responses for each error status a route can answer, all in the one shape. 414, 500 and 503
 * are added to every route that uses this: any URL can be too long, any route can fail
 * inside, and every one of them reaches a store (the routes that do not, / and /health/*,
 * list theirs with errorRef).
 */
export function errors (...statuses: number[]): Record<number, ReturnType<typeof errorRef>> {
  return Object.fromEntries([...new Set([...statuses, 414, 500, 503])].map((s) => [s, errorRef(s)]))
}
