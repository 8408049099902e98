/**
 * Every `code` an error answer may carry: the contract's list (its "Error codes"), in its
 * order. The OpenAPI document shows it as ErrorResponse.code's enum.
 */
export const ERROR_CODES = [
  'VALIDATION_ERROR', 'INVALID_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'ROUTE_NOT_FOUND', 'URI_TOO_LONG',
  'BOOK_NOT_FOUND', 'REVIEW_NOT_FOUND', 'USER_NOT_FOUND', 'SESSION_NOT_FOUND', 'EMAIL_TAKEN',
  'CANNOT_LOWER_OWN_PERMISSION', 'LAST_ADMIN', 'PASSWORD_TOO_COMMON', 'FORBIDDEN',
  'TOKEN_REQUIRED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'REFRESH_TOKEN_INVALID',
  'REFRESH_TOKEN_REUSED', 'INVALID_CREDENTIALS', 'PRECONDITION_FAILED',
  'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE', 'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE', 'RATE_LIMITED',
  'TOO_MANY_SIGN_IN_FAILURES', 'SERVICE_UNAVAILABLE', 'NOT_READY', 'INTERNAL_ERROR'
] as const
export type ErrorCode = typeof ERROR_CODES[number]

/**
 * Errors with a stable machine-readable code. The error handler turns each into the one
 * error shape; anything that is not an AppError is an internal error and its text is hidden.
 */
export class AppError extends Error {
  override name = 'AppError'
  constructor (
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Fields the answer carries beyond the one shape's own (readiness names its services). */
    readonly fields: Record<string, unknown> = {}
  ) {
    super(message)
  }
}

const BEARER = { 'www-authenticate': 'Bearer' }

export const tokenRequired = (): AppError => new AppError(401, 'TOKEN_REQUIRED', 'Token is required', BEARER)
export const tokenUndecodable = (): AppError =>
  new AppError(401, 'TOKEN_INVALID', 'failed to decode token', { 'www-authenticate': 'Bearer error="invalid_token"' })
export const tokenExpired = (): AppError =>
  new AppError(401, 'TOKEN_EXPIRED', 'invalid token', { 'www-authenticate': 'Bearer error="invalid_token"' })
export const forbidden = (): AppError => new AppError(403, 'FORBIDDEN', 'Unauthorized')
/** A token of a session that has ended (sign-out, password change, reuse) or run out. */
export const tokenRevoked = (): AppError =>
  new AppError(401, 'TOKEN_REVOKED', 'invalid token', { 'www-authenticate': 'Bearer error="invalid_token"' })
/** An unknown, expired or ended refresh token, or one of a session that has ended. */
export const refreshTokenInvalid = (): AppError =>
  new AppError(401, 'REFRESH_TOKEN_INVALID', 'invalid token', { 'www-authenticate': 'Bearer error="invalid_token"' })
/** A spent refresh token presented again: its session has just been ended. */
export const refreshTokenReused = (): AppError =>
  new AppError(401, 'REFRESH_TOKEN_REUSED', 'invalid token', { 'www-authenticate': 'Bearer error="invalid_token"' })

export const notFound = (what: string): AppError =>
  new AppError(404, `${what.toUpperCase()}_NOT_FOUND`, `${what[0]?.toUpperCase() ?? ''}${what.slice(1)} not found`)

/** A request whose parts each pass their schema but not together: the schema error's shape. */
export const invalidInput = (part: string, path: string, message: string): AppError =>
  new AppError(400, 'VALIDATION_ERROR', `${part}${path} ${message}`, {}, { details: [{ path, message }] })

export const preconditionFailed = (): AppError =>
  new AppError(412, 'PRECONDITION_FAILED', 'If-Match does not list the current ETag; read the resource again')

export const emailTaken = (): AppError => new AppError(409, 'EMAIL_TAKEN', 'An account with this email already exists')
export const cannotLowerOwnLevel = (): AppError =>
  new AppError(409, 'CANNOT_LOWER_OWN_PERMISSION', 'An Admin cannot lower its own permission level')
export const lastAdmin = (): AppError =>
  new AppError(409, 'LAST_ADMIN', 'The last Admin cannot be lowered')
export const idempotencyKeyReused = (): AppError =>
  new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with another request body')
export const idempotencyKeyInUse = (): AppError =>
  new AppError(409, 'IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still being processed; retry shortly')
export const invalidCredentials = (): AppError =>
  new AppError(401, 'INVALID_CREDENTIALS', 'Invalid email or password', BEARER)
/** PUT /users/me/password: the token is good (plain Bearer), the password is not. */
export const wrongCurrentPassword = (): AppError =>
  new AppError(401, 'INVALID_CREDENTIALS', 'The current password is not correct', BEARER)
export const breachedPassword = (): AppError =>
  new AppError(400, 'PASSWORD_TOO_COMMON', 'This password appears in a list of commonly breached passwords; choose another')
export const signInThrottled = (retryAfterSeconds: number): AppError =>
  new AppError(429, 'TOO_MANY_SIGN_IN_FAILURES', 'Too many failed sign-ins for this email; try again later', {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds)))
  })

/** The contract's URL limit; a longer one is 414 (a path parameter over 100 characters too). */
export const MAX_URL_LENGTH = 2048
export const uriTooLong = (): AppError => new AppError(414, 'URI_TOO_LONG', `The URL is longer than ${MAX_URL_LENGTH} characters`)
/** Bad percent-encoding (`%ff`, `%zz`, a lone `%`) in the path or the query. Never echoes the URL. */
export const badUrl = (): AppError => new AppError(400, 'VALIDATION_ERROR', 'The URL is not valid: bad percent-encoding')

/** Readiness: which configured backing services answer; the message names those that do not. */
export const notReady = (services: Record<string, 'up' | 'down'>): AppError => {
  const down = Object.keys(services).filter((name) => services[name] === 'down')
  return new AppError(503, 'NOT_READY', `Not ready: ${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down`,
    { 'retry-after': '5' }, { services })
}

/**
 * A request that arrived after shutdown began, on a connection that was still open: go to
 * another instance. The connection closes with this answer.
 */
export const shuttingDown = (): AppError =>
  new AppError(503, 'SERVICE_UNAVAILABLE', 'The service is shutting down; retry on another instance', {
    'retry-after': '1', connection: 'close'
  })

/**
 * The service sheds this request at once rather than queue it (event-loop delay, memory, or
 * a full password-hashing queue): retry shortly.
 */
export class OverloadedError extends AppError {
  override name = 'OverloadedError'
  constructor (retryAfterSeconds = 1) {
    super(503, 'SERVICE_UNAVAILABLE', 'The service is overloaded; retry shortly', { 'retry-after': String(retryAfterSeconds) })
  }
}

/** Readiness while the service sheds load: the backing services may all be up. */
export const notReadyShedding = (services: Record<string, 'up' | 'down'>, retryAfterSeconds: number): AppError =>
  new AppError(503, 'NOT_READY', 'Not ready: shedding load (event-loop delay, heap or resident memory past its limit)',
    { 'retry-after': String(retryAfterSeconds) }, { services })

/** A backing service (SQL, MongoDB) failed or timed out: the client may retry shortly. */
export class ServiceUnavailableError extends AppError {
  override name = 'ServiceUnavailableError'
  constructor (readonly service: string, options?: { cause?: unknown }) {
    super(503, 'SERVICE_UNAVAILABLE', 'A backing service is unavailable; try again shortly', { 'retry-after': '5' })
    if (options?.cause !== undefined) this.cause = options.cause
  }
}
