import { Type, type TSchema } from '@sinclair/typebox'
import { AppError, ERROR_STATUS, type ErrorCode } from '../domain/errors'
import { idOf, type HeaderDoc } from '../schemas/common'
import { ErrorResponse } from '../schemas/error'
import { BODY_LIMIT_TEXT, JSON_MEDIA_TYPE, MAX_PARAM_LENGTH, MAX_URL_LENGTH, withCommas } from './limits'

/**
 * The HTTP side of the error catalogue (the codes and their statuses are src/domain/errors.ts):
 * the errors the HTTP layer raises itself, the answers to Fastify's own errors, and what each
 * status means in the OpenAPI document.
 */

export const uriTooLong = (): AppError => new AppError('URI_TOO_LONG', `The URL is longer than ${MAX_URL_LENGTH} characters`)
export const paramTooLong = (): AppError =>
  new AppError('URI_TOO_LONG', `A path parameter is longer than ${MAX_PARAM_LENGTH} characters`)
/** Bad percent-encoding (`%ff`, `%zz`, a lone `%`) in the path or the query. Never echoes the URL. */
export const badUrl = (): AppError => new AppError('VALIDATION_ERROR', 'The URL is not valid: bad percent-encoding')
export const invalidRequest = (): AppError => new AppError('VALIDATION_ERROR', 'The request is not valid')
export const requestTimeout = (): AppError => new AppError('REQUEST_TIMEOUT', 'The request was not wholly received in time')
export const headersTooLarge = (): AppError => new AppError('HEADERS_TOO_LARGE', 'The request headers are too large')
export const notHttp = (): AppError => new AppError('VALIDATION_ERROR', 'The request is not valid HTTP')

/** One address sent more than its route's per-address limit allows (plugins/external/rate-limit.ts). */
export const rateLimited = (ttlMs: number): AppError =>
  new AppError('RATE_LIMITED', `Too many requests; retry in ${Math.ceil(ttlMs / 1000)} seconds`, {
    'retry-after': String(Math.max(1, Math.ceil(ttlMs / 1000)))
  })

/** The parser's answer to a body that is not JSON, whichever way the parser says so. */
export const INVALID_JSON_BODY: readonly [ErrorCode, string] = ['INVALID_JSON', 'The request body is not valid JSON']

/**
 * Fastify's own client errors, with our codes and fixed sentences (never a parser's text);
 * the status stays Fastify's.
 */
export const FASTIFY_ERRORS: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', `Send the body as ${JSON_MEDIA_TYPE}`],
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', `The request body is larger than ${BODY_LIMIT_TEXT}`],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_JSON', `The body is empty but the content type is ${JSON_MEDIA_TYPE}`],
  FST_ERR_CTP_INVALID_JSON_BODY: INVALID_JSON_BODY,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['VALIDATION_ERROR', 'Content-Length does not match the body'],
  FST_ERR_BAD_URL: ['VALIDATION_ERROR', 'The URL is not valid']
}

/**
 * The code of a client error that brings none of its own (a plugin's, Fastify's), by its
 * status; any other 4xx is VALIDATION_ERROR.
 */
export const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = Object.fromEntries(
  (['ROUTE_NOT_FOUND', 'REQUEST_TIMEOUT', 'PAYLOAD_TOO_LARGE', 'URI_TOO_LONG', 'UNSUPPORTED_MEDIA_TYPE', 'RATE_LIMITED', 'HEADERS_TOO_LARGE'] as const)
    .map((code) => [ERROR_STATUS[code], code])
)

/** What each error status means, as the OpenAPI document describes a route's answers. */
const ERROR_MEANINGS: Record<number, string> = {
  400: 'Invalid input: VALIDATION_ERROR (with details), INVALID_JSON, PASSWORD_TOO_COMMON',
  401: 'TOKEN_REQUIRED, TOKEN_INVALID ("failed to decode token"), TOKEN_EXPIRED or TOKEN_REVOKED ("invalid token"), ' +
    'REFRESH_TOKEN_INVALID or REFRESH_TOKEN_REUSED ("invalid token"), or INVALID_CREDENTIALS',
  403: 'FORBIDDEN: the token\'s level is too low, or the review is someone else\'s',
  404: 'The book, review, user or session does not exist',
  409: 'EMAIL_TAKEN, CANNOT_LOWER_OWN_PERMISSION, LAST_ADMIN, or IDEMPOTENCY_KEY_IN_USE (the first request with this key is still being processed)',
  413: `PAYLOAD_TOO_LARGE: the body is over ${BODY_LIMIT_TEXT}`,
  414: `URI_TOO_LONG: a path parameter over ${MAX_PARAM_LENGTH} characters, or a URL over ${withCommas(MAX_URL_LENGTH)}`,
  415: `UNSUPPORTED_MEDIA_TYPE: send ${JSON_MEDIA_TYPE}`,
  422: 'IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was used with another body',
  429: 'RATE_LIMITED or TOO_MANY_SIGN_IN_FAILURES; see Retry-After',
  500: 'INTERNAL_ERROR: quote request_id when reporting it',
  503: 'SERVICE_UNAVAILABLE (or NOT_READY): a backing service is down; see Retry-After'
}

/** Read by the catalogue's tests: every code a meaning names answers that status. */
export const errorMeaning = (status: number): string | undefined => ERROR_MEANINGS[status]

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
