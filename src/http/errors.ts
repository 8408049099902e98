import { STATUS_CODES } from 'node:http'
import { Type, type TSchema } from '@sinclair/typebox'
import {
  AppError, ERROR_STATUS, cannotLowerOwnLevel, emailTaken, forbidden, idempotencyKeyInUse, idempotencyKeyReused, invalidCredentials, invalidInput, lastAdmin, notFound, notReady, preconditionFailed, refreshTokenInvalid, refreshTokenReused, shuttingDown, signInThrottled, tokenExpired, tokenRequired, tokenRevoked, tokenUndecodable, breachedPassword, type ErrorCode, verificationTokenInvalid, emailAlreadyVerified, emailNotVerified, tooManyEmails, resetTokenInvalid,
  mfaRequired, mfaCodeInvalid, totpAlreadyEnabled, totpNotPending, passkeyInvalid, passkeyNotFound, apiKeyInvalid, apiKeyNotFound, tooManyApiKeys
} from '../domain/errors'
import { idOf, type HeaderDoc } from '../schemas/common'
import { ErrorResponse, NotReadyResponse } from '../schemas/error'
import { BODY_LIMIT_TEXT, JSON_MEDIA_TYPE, MAX_PARAM_LENGTH, MAX_URL_LENGTH, withCommas } from './limits'
import type { Detail } from './validation'

/**
 * The HTTP side of the error catalogue (the codes and their statuses are src/domain/errors.ts):
 * the errors the HTTP layer raises itself, the answers to Fastify's own errors, the one error
 * body, and the codes each operation's error statuses list in the OpenAPI document, each with
 * an example built from the error the service throws.
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
/** A fault of ours: the client gets only the request id to quote. */
export const internalError = (requestId: string): AppError =>
  new AppError('INTERNAL_ERROR', 'Something went wrong on our side; quote the request id when reporting it', {}, { request_id: requestId })

/** One address sent more than its route's per-address limit allows (plugins/external/rate-limit.ts). */
export const rateLimited = (ttlMs: number): AppError =>
  new AppError('RATE_LIMITED', `Too many requests; retry in ${Math.ceil(ttlMs / 1000)} seconds`, {
    'retry-after': String(Math.max(1, Math.ceil(ttlMs / 1000)))
  })

/** The one error shape every error answers (ErrorResponse), `error` the status's reason phrase. */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
  details?: Detail[]
  request_id?: string
}

export function errorBody (statusCode: number, code: string, message: string, extra: Partial<ErrorBody> = {}): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message, ...extra }
}

/** What an AppError answers: the one shape, and the fields it carries beyond it. */
export const answerOf = (err: AppError): ErrorBody & Record<string, unknown> =>
  ({ ...errorBody(err.statusCode, err.code, err.message), ...err.fields })

/** The parser's answer to a body that is not JSON, whichever way the parser says so. */
export const INVALID_JSON_BODY: readonly [ErrorCode, string] = ['INVALID_JSON', 'The request body is not valid JSON']
const UNSUPPORTED_BODY: readonly [ErrorCode, string] = ['UNSUPPORTED_MEDIA_TYPE', `Send the body as ${JSON_MEDIA_TYPE}`]
const BODY_TOO_LARGE: readonly [ErrorCode, string] = ['PAYLOAD_TOO_LARGE', `The request body is larger than ${BODY_LIMIT_TEXT}`]

/**
 * Fastify's own client errors, with our codes and fixed sentences (never a parser's text);
 * the status stays Fastify's.
 */
export const FASTIFY_ERRORS: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: UNSUPPORTED_BODY,
  FST_ERR_CTP_BODY_TOO_LARGE: BODY_TOO_LARGE,
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


/** Every code an operation can answer; ROUTE_NOT_FOUND is the answer of no operation. */
export type OperationCode = Exclude<ErrorCode, 'ROUTE_NOT_FOUND'>

/** When each code is answered, as the OpenAPI document's error descriptions say it. */
const WHEN: Record<OperationCode, string> = {
  VALIDATION_ERROR: 'a path parameter, the query, a header or the body breaks its schema (`details` says where), or the URL is malformed',
  INVALID_JSON: 'the body is not JSON',
  PAYLOAD_TOO_LARGE: `the body is over ${BODY_LIMIT_TEXT}`,
  UNSUPPORTED_MEDIA_TYPE: `the body is not ${JSON_MEDIA_TYPE}`,
  URI_TOO_LONG: `a path parameter over ${MAX_PARAM_LENGTH} characters, or a URL over ${withCommas(MAX_URL_LENGTH)}`,
  BOOK_NOT_FOUND: 'no such book',
  REVIEW_NOT_FOUND: 'no such review',
  USER_NOT_FOUND: 'no such user',
  SESSION_NOT_FOUND: 'no such session of yours',
  EMAIL_TAKEN: 'an account has this email',
  CANNOT_LOWER_OWN_PERMISSION: 'an Admin lowering its own level',
  LAST_ADMIN: 'lowering or deleting the last Admin',
  PASSWORD_TOO_COMMON: 'the password is on the list of breached passwords',
  FORBIDDEN: 'the level stored for the token\'s user is too low, or the review is someone else\'s',
  TOKEN_REQUIRED: 'no token',
  TOKEN_INVALID: 'a token that does not decode or verify',
  TOKEN_EXPIRED: 'an expired token',
  TOKEN_REVOKED: 'a token of an ended session',
  REFRESH_TOKEN_INVALID: 'an unknown, expired or ended refresh token',
  REFRESH_TOKEN_REUSED: 'a spent refresh token presented again: its session has ended',
  INVALID_CREDENTIALS: 'a wrong email and password pair, or a wrong current password',
  PRECONDITION_FAILED: 'If-Match lists no current ETag: nothing was changed; read the resource again',
  IDEMPOTENCY_KEY_REUSED: 'this Idempotency-Key was used with another body',
  IDEMPOTENCY_KEY_IN_USE: 'the first request with this Idempotency-Key is still being processed',
  REQUEST_TIMEOUT: 'the request was not wholly received in time',
  HEADERS_TOO_LARGE: 'the request headers are too large',
  RATE_LIMITED: 'too many requests from this address, or with this API key; see Retry-After',
  TOO_MANY_SIGN_IN_FAILURES: 'too many failed sign-ins for this email; see Retry-After',
  SERVICE_UNAVAILABLE: 'a backing service is down or slow, the service sheds load, or it is shutting down; see Retry-After',
  NOT_READY: '`services` names the backing service that is down, or the service sheds load; see Retry-After',
  INTERNAL_ERROR: 'a fault of ours: quote `request_id` when reporting it',
  VERIFICATION_TOKEN_INVALID: 'the verification token is unknown, used, superseded or expired',
  EMAIL_ALREADY_VERIFIED: 'the address is verified already',
  EMAIL_NOT_VERIFIED: 'verified addresses are required and this user\'s is not',
  TOO_MANY_EMAILS: 'too many messages asked for within the hour; see Retry-After',
  RESET_TOKEN_INVALID: 'the reset token is unknown, used or expired',
  MFA_REQUIRED: 'the password (or reset token) is right and the account has TOTP on: send `code`',
  MFA_CODE_INVALID: 'the TOTP or recovery code is wrong, used before, or used up',
  TOTP_ALREADY_ENABLED: 'TOTP is on already',
  TOTP_NOT_PENDING: 'no TOTP secret waits for confirmation',
  PASSKEY_INVALID: 'the passkey response does not verify (challenge, origin, relying party, flags or signature)',
  PASSKEY_NOT_FOUND: 'no such passkey of yours',
  API_KEY_INVALID: 'an unknown, revoked or expired API key',
  API_KEY_NOT_FOUND: 'no such API key of yours',
  TOO_MANY_API_KEYS: 'the user holds 20 live API keys already'
}

/** Read by the catalogue's tests. */
export const whenAnswered = (code: OperationCode): string => WHEN[code]

/** A request id as the examples show it. */
const EXAMPLE_REQUEST_ID = '3f2b8c1e-9d4a-4f6b-8e2d-7a5c9b1d0e4f'

/**
 * The error each code is shown by when a route names only the code: the constructors the
 * service throws, so an example says what the service sends.
 */
const EXAMPLE: Record<OperationCode, () => AppError> = {
  VALIDATION_ERROR: badUrl,
  INVALID_JSON: () => new AppError(...INVALID_JSON_BODY),
  PAYLOAD_TOO_LARGE: () => new AppError(...BODY_TOO_LARGE),
  UNSUPPORTED_MEDIA_TYPE: () => new AppError(...UNSUPPORTED_BODY),
  URI_TOO_LONG: uriTooLong,
  BOOK_NOT_FOUND: () => notFound('book'),
  REVIEW_NOT_FOUND: () => notFound('review'),
  USER_NOT_FOUND: () => notFound('user'),
  SESSION_NOT_FOUND: () => notFound('session'),
  EMAIL_TAKEN: emailTaken,
  CANNOT_LOWER_OWN_PERMISSION: cannotLowerOwnLevel,
  LAST_ADMIN: () => lastAdmin(),
  PASSWORD_TOO_COMMON: breachedPassword,
  FORBIDDEN: forbidden,
  TOKEN_REQUIRED: tokenRequired,
  TOKEN_INVALID: tokenUndecodable,
  TOKEN_EXPIRED: tokenExpired,
  TOKEN_REVOKED: tokenRevoked,
  REFRESH_TOKEN_INVALID: refreshTokenInvalid,
  REFRESH_TOKEN_REUSED: refreshTokenReused,
  INVALID_CREDENTIALS: invalidCredentials,
  PRECONDITION_FAILED: preconditionFailed,
  IDEMPOTENCY_KEY_REUSED: idempotencyKeyReused,
  IDEMPOTENCY_KEY_IN_USE: idempotencyKeyInUse,
  REQUEST_TIMEOUT: requestTimeout,
  HEADERS_TOO_LARGE: headersTooLarge,
  RATE_LIMITED: () => rateLimited(60_000),
  TOO_MANY_SIGN_IN_FAILURES: () => signInThrottled(60),
  // The one 503 every route can answer.
  SERVICE_UNAVAILABLE: shuttingDown,
  NOT_READY: () => notReady({ mysql: 'up', mongodb: 'up', redis: 'down' }),
  INTERNAL_ERROR: () => internalError(EXAMPLE_REQUEST_ID),
  VERIFICATION_TOKEN_INVALID: verificationTokenInvalid,
  EMAIL_ALREADY_VERIFIED: emailAlreadyVerified,
  EMAIL_NOT_VERIFIED: emailNotVerified,
  TOO_MANY_EMAILS: () => tooManyEmails(3600),
  RESET_TOKEN_INVALID: resetTokenInvalid,
  MFA_REQUIRED: mfaRequired,
  MFA_CODE_INVALID: () => mfaCodeInvalid(),
  TOTP_ALREADY_ENABLED: totpAlreadyEnabled,
  TOTP_NOT_PENDING: totpNotPending,
  PASSKEY_INVALID: passkeyInvalid,
  PASSKEY_NOT_FOUND: passkeyNotFound,
  API_KEY_INVALID: apiKeyInvalid,
  API_KEY_NOT_FOUND: apiKeyNotFound,
  TOO_MANY_API_KEYS: tooManyApiKeys
}

/**
 * An error a route can answer: its code (shown by the catalogue's example of it), or the
 * error itself where the route's message is its own (PUT /users/me/password's wrong password).
 */
export type ErrorAnswer = OperationCode | AppError

/** The answer an example shows for a code a route names without an error of its own. */
export const catalogueExample = (code: OperationCode): ErrorBody & Record<string, unknown> => answerOf(EXAMPLE[code]())

const errorOf = (answer: ErrorAnswer): AppError => (typeof answer === 'string' ? EXAMPLE[answer]() : answer)

const RETRY_AFTER: Record<string, HeaderDoc> = { 'Retry-After': { type: 'string', description: 'Seconds to wait before retrying' } }
const ERROR_HEADERS: Record<number, Record<string, HeaderDoc>> = {
  401: { 'WWW-Authenticate': { type: 'string', description: 'Bearer; with error="invalid_token" when a token was sent and is no good' } },
  429: RETRY_AFTER,
  503: RETRY_AFTER
}

/** Errors by status, each status's in the catalogue's order, one per code (a later one wins). */
function byStatus (errs: AppError[]): Map<number, AppError[]> {
  const byCode = new Map<ErrorCode, AppError>()
  for (const err of errs) byCode.set(err.code, err)
  const order = Object.keys(ERROR_STATUS)
  const sorted = [...byCode.values()].sort((a, b) => order.indexOf(a.code) - order.indexOf(b.code))
  const groups = new Map<number, AppError[]>()
  for (const err of sorted) groups.set(err.statusCode, [...(groups.get(err.statusCode) ?? []), err])
  return groups
}

/** NOT_READY carries the state of each service: readiness's own shape. */
const schemaOf = (errs: AppError[]): TSchema => (errs.some((err) => err.code === 'NOT_READY') ? NotReadyResponse : ErrorResponse)
/** A Markdown list: the explorer shows each code on its own line. */
const describe = (errs: AppError[]): string => errs.map((err) => `- \`${err.code}\`: ${WHEN[err.code as OperationCode]}`).join('\n')
const headersOf = (status: number) => (ERROR_HEADERS[status] === undefined ? {} : { headers: ERROR_HEADERS[status] })

/** The errors a route declared, kept on its response schemas for the OpenAPI document. */
const ANSWERS = Symbol('error answers')
type Declared = TSchema & { [ANSWERS]?: AppError[] }

/**
 * The error responses of what a route itself can answer, by status, each by reference to the
 * one error shape: `errors('BOOK_NOT_FOUND', 'PRECONDITION_FAILED')`. The errors every route
 * of its kind answers (a malformed URL, 414, 500, 503; bodies' 400/413/415; tokens' 401/403;
 * the rate limit's 429) are not named here: documentedErrors adds them from the route itself.
 */
export function errors (...answers: ErrorAnswer[]): Record<number, TSchema> {
  return Object.fromEntries([...byStatus(answers.map(errorOf))].map(([status, errs]) => {
    const schema: Declared = Type.Ref(idOf(schemaOf(errs)), { description: describe(errs), ...headersOf(status) })
    schema[ANSWERS] = errs
    return [status, schema]
  }))
}

/**
 * The mark a permission hook carries when it may answer EMAIL_NOT_VERIFIED (plugins/app/auth.ts
 * sets it, the OpenAPI transform reads it): a property, so neither imports the other.
 */
export const REFUSES_UNVERIFIED = 'refusesUnverified'

/** What a route is, as far as the errors it answers without naming them depend on it. */
export interface RouteFacts {
  method: string
  /** It declares `security` (a permission hook guards it). */
  secured: boolean
  /** Its permission hook refuses an unverified user while REQUIRE_VERIFIED_EMAIL is on. */
  refusesUnverified?: boolean
  /** It has a per-address limit (`config.rateLimit`). */
  rateLimited: boolean
  /** The first required field of its body, if it validates one: the example of VALIDATION_ERROR. */
  requiredField?: string | undefined
}

/** Methods whose requests may carry a body: Fastify parses one on any route, with or without a body schema. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** The errors a route answers by being a route of its kind, whatever it does. */
function commonErrors (route: RouteFacts): AppError[] {
  const common = [
    route.requiredField === undefined ? badUrl() : invalidInput('body', `/${route.requiredField}`, 'is required'),
    uriTooLong(), internalError(EXAMPLE_REQUEST_ID), shuttingDown()
  ]
  if (BODY_METHODS.has(route.method.toUpperCase())) common.push(EXAMPLE.INVALID_JSON(), EXAMPLE.PAYLOAD_TOO_LARGE(), EXAMPLE.UNSUPPORTED_MEDIA_TYPE())
  if (route.secured) common.push(tokenRequired(), tokenUndecodable(), tokenExpired(), tokenRevoked(), apiKeyInvalid(), forbidden())
  if (route.refusesUnverified === true) common.push(emailNotVerified())
  // A secured route counts each API key's requests (API_KEY_RATE_LIMIT).
  if (route.rateLimited || route.secured) common.push(EXAMPLE.RATE_LIMITED())
  return common
}

/** One error status as the OpenAPI document shows it: the codes it may carry, an example of each. */
export interface ErrorResponseDoc {
  description: string
  headers?: Record<string, HeaderDoc>
  content: Record<string, { schema: TSchema, examples: Record<string, { summary: string, value: unknown }> }>
}

/**
 * A route's responses as the OpenAPI document shows them: its own, and for every error status
 * it can answer (those it declared with errors(), and those every route of its kind answers)
 * the codes it can carry, with an example of each built from the error the service throws.
 */
export function documentedErrors (response: Record<string, unknown> | undefined, route: RouteFacts): Record<string, unknown> {
  const declared = Object.values(response ?? {}).flatMap((schema) => (schema as Declared)[ANSWERS] ?? [])
  const docs: Record<string, unknown> = Object.fromEntries(Object.entries(response ?? {}).filter(([status]) => Number(status) < 400))
  for (const [status, errs] of byStatus([...commonErrors(route), ...declared])) {
    const doc: ErrorResponseDoc = {
      description: describe(errs),
      ...headersOf(status),
      content: {
        [JSON_MEDIA_TYPE]: {
          schema: Type.Ref(idOf(schemaOf(errs))),
          examples: Object.fromEntries(errs.map((err) => [err.code, { summary: WHEN[err.code as OperationCode], value: answerOf(err) }]))
        }
      }
    }
    docs[status] = doc
  }
  return docs
}
