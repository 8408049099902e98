/**
 * The catalogue: every `code` an error answer may carry, with the status it answers, in the
 * contract's order (its "Error codes"). The OpenAPI document shows the codes as
 * ErrorResponse.code's enum; an AppError takes its status from here, so a code never answers
 * two statuses by accident.
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ROUTE_NOT_FOUND: 404,
  URI_TOO_LONG: 414,
  BOOK_NOT_FOUND: 404,
  REVIEW_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  EMAIL_TAKEN: 409,
  CANNOT_LOWER_OWN_PERMISSION: 409,
  LAST_ADMIN: 409,
  PASSWORD_TOO_COMMON: 400,
  FORBIDDEN: 403,
  TOKEN_REQUIRED: 401,
  TOKEN_INVALID: 401,
  TOKEN_EXPIRED: 401,
  TOKEN_REVOKED: 401,
  REFRESH_TOKEN_INVALID: 401,
  REFRESH_TOKEN_REUSED: 401,
  INVALID_CREDENTIALS: 401,
  PRECONDITION_FAILED: 412,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_KEY_IN_USE: 409,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  RATE_LIMITED: 429,
  TOO_MANY_SIGN_IN_FAILURES: 429,
  SERVICE_UNAVAILABLE: 503,
  NOT_READY: 503,
  INTERNAL_ERROR: 500,
  VERIFICATION_TOKEN_INVALID: 400,
  EMAIL_ALREADY_VERIFIED: 409,
  EMAIL_NOT_VERIFIED: 403,
  TOO_MANY_EMAILS: 429,
  RESET_TOKEN_INVALID: 400,
  MFA_REQUIRED: 401,
  // 401 wherever a code stands beside a credential; POST /users/me/totp/confirm answers it 400
  // (the token is good, the body is wrong): mfaCodeInvalid's `status`.
  MFA_CODE_INVALID: 401,
  TOTP_ALREADY_ENABLED: 409,
  TOTP_NOT_PENDING: 409,
  PASSKEY_INVALID: 400,
  PASSKEY_NOT_FOUND: 404,
  API_KEY_INVALID: 401,
  API_KEY_NOT_FOUND: 404,
  TOO_MANY_API_KEYS: 409
} as const satisfies Record<string, number>
export type ErrorCode = keyof typeof ERROR_STATUS
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[]

/**
 * Errors with a stable machine-readable code. The error handler turns each into the one
 * error shape; anything that is not an AppError is an internal error and its text is hidden.
 */
export class AppError extends Error {
  override name = 'AppError'
  readonly statusCode: number
  constructor (
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Fields the answer carries beyond the one shape's own (readiness names its services). */
    readonly fields: Record<string, unknown> = {},
    /** Only where the contract gives one code two statuses (MFA_CODE_INVALID at TOTP confirm). */
    status?: number
  ) {
    super(message)
    this.statusCode = status ?? ERROR_STATUS[code]
  }
}

const BEARER = { 'www-authenticate': 'Bearer' }
/** A token was sent and is no good: the Bearer challenge names the error (RFC 6750). */
const BAD_TOKEN = { 'www-authenticate': 'Bearer error="invalid_token"' }
/** The Flask design's word for every token that decodes but may not be used. */
const INVALID_TOKEN = 'invalid token'

export const tokenRequired = (): AppError => new AppError('TOKEN_REQUIRED', 'Token is required', BEARER)
export const tokenUndecodable = (): AppError =>
  new AppError('TOKEN_INVALID', 'failed to decode token', BAD_TOKEN)
export const tokenExpired = (): AppError =>
  new AppError('TOKEN_EXPIRED', INVALID_TOKEN, BAD_TOKEN)
export const forbidden = (): AppError => new AppError('FORBIDDEN', 'Unauthorized')
/** A token of a session that has ended (sign-out, password change, reuse) or run out. */
export const tokenRevoked = (): AppError =>
  new AppError('TOKEN_REVOKED', INVALID_TOKEN, BAD_TOKEN)
/** An unknown, expired or ended refresh token, or one of a session that has ended. */
export const refreshTokenInvalid = (): AppError =>
  new AppError('REFRESH_TOKEN_INVALID', INVALID_TOKEN, BAD_TOKEN)
/** A spent refresh token presented again: its session has just been ended. */
export const refreshTokenReused = (): AppError =>
  new AppError('REFRESH_TOKEN_REUSED', INVALID_TOKEN, BAD_TOKEN)

export const notFound = (what: 'book' | 'review' | 'user' | 'session'): AppError =>
  new AppError(`${what.toUpperCase() as Uppercase<typeof what>}_NOT_FOUND`, `${what[0]?.toUpperCase() ?? ''}${what.slice(1)} not found`)

/** A request whose parts each pass their schema but not together: the schema error's shape. */
export const invalidInput = (part: string, path: string, message: string): AppError =>
  new AppError('VALIDATION_ERROR', `${part}${path} ${message}`, {}, { details: [{ path, message }] })

export const preconditionFailed = (): AppError =>
  new AppError('PRECONDITION_FAILED', 'If-Match does not list the current ETag; read the resource again')

export const emailTaken = (): AppError => new AppError('EMAIL_TAKEN', 'An account with this email already exists')
export const cannotLowerOwnLevel = (): AppError =>
  new AppError('CANNOT_LOWER_OWN_PERMISSION', 'An Admin cannot lower its own permission level')
export const lastAdmin = (change: 'lowered' | 'deleted' = 'lowered'): AppError =>
  new AppError('LAST_ADMIN', `The last Admin cannot be ${change}`)
export const idempotencyKeyReused = (): AppError =>
  new AppError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was already used with another request body')
export const idempotencyKeyInUse = (): AppError =>
  new AppError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still being processed; retry shortly')
export const invalidCredentials = (): AppError =>
  new AppError('INVALID_CREDENTIALS', 'Invalid email or password', BEARER)
/** PUT /users/me/password: the token is good (plain Bearer), the password is not. */
export const wrongCurrentPassword = (): AppError =>
  new AppError('INVALID_CREDENTIALS', 'The current password is not correct', BEARER)
export const breachedPassword = (): AppError =>
  new AppError('PASSWORD_TOO_COMMON', 'This password appears in a list of commonly breached passwords; choose another')
export const signInThrottled = (retryAfterSeconds: number): AppError =>
  new AppError('TOO_MANY_SIGN_IN_FAILURES', 'Too many failed sign-ins for this email; try again later', {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds)))
  })

export const verificationTokenInvalid = (): AppError =>
  new AppError('VERIFICATION_TOKEN_INVALID', 'This verification token is unknown, used, superseded or expired; ask for a new one')
export const emailAlreadyVerified = (): AppError =>
  new AppError('EMAIL_ALREADY_VERIFIED', 'This email address is verified already')
export const emailNotVerified = (): AppError =>
  new AppError('EMAIL_NOT_VERIFIED', 'Verify your email address first: POST /users/me/verify-email sends a new message')
export const tooManyEmails = (retryAfterSeconds: number): AppError =>
  new AppError('TOO_MANY_EMAILS', 'Too many messages asked for; try again later', {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds)))
  })
export const resetTokenInvalid = (): AppError =>
  new AppError('RESET_TOKEN_INVALID', 'This reset token is unknown, used or expired; ask for a new one')

/** A right password (or reset token) of an account with TOTP on, and no code. Not a failure. */
export const mfaRequired = (): AppError => new AppError('MFA_REQUIRED', 'a second factor is required', BEARER)
/**
 * A wrong, reused or used-up TOTP or recovery code: 401 beside a credential (sign-in, disable,
 * reset confirm), 400 at confirm, where the signed-in user's body is what is wrong.
 */
export const mfaCodeInvalid = ({ status = 401 }: { status?: 400 | 401 } = {}): AppError =>
  new AppError('MFA_CODE_INVALID', 'The code is not valid', status === 401 ? BEARER : {}, {}, status)
export const totpAlreadyEnabled = (): AppError => new AppError('TOTP_ALREADY_ENABLED', 'TOTP is enabled already; disable it first')
export const totpNotPending = (): AppError => new AppError('TOTP_NOT_PENDING', 'No TOTP secret is waiting for confirmation; POST /users/me/totp first')
export const passkeyInvalid = (): AppError => new AppError('PASSKEY_INVALID', 'The passkey response does not verify')
export const passkeyNotFound = (): AppError => new AppError('PASSKEY_NOT_FOUND', 'Passkey not found')
/** An unknown, revoked or expired API key: the Flask design's word for a token that may not be used. */
export const apiKeyInvalid = (): AppError => new AppError('API_KEY_INVALID', INVALID_TOKEN, BAD_TOKEN)
export const apiKeyNotFound = (): AppError => new AppError('API_KEY_NOT_FOUND', 'API key not found')
export const tooManyApiKeys = (): AppError => new AppError('TOO_MANY_API_KEYS', 'A user may hold at most 20 live API keys; revoke one first')

/** Readiness: which configured backing services answer; the message names those that do not. */
export const notReady = (services: Record<string, 'up' | 'down'>): AppError => {
  const down = Object.keys(services).filter((name) => services[name] === 'down')
  return new AppError('NOT_READY', `Not ready: ${down.join(', ')} ${down.length === 1 ? 'is' : 'are'} down`,
    { 'retry-after': '5' }, { services })
}

/**
 * A request that arrived after shutdown began, on a connection that was still open: go to
 * another instance. The connection closes with this answer.
 */
export const shuttingDown = (): AppError =>
  new AppError('SERVICE_UNAVAILABLE', 'The service is shutting down; retry on another instance', {
    'retry-after': '1', connection: 'close'
  })

/**
 * The service sheds this request at once rather than queue it (event-loop delay, memory, or
 * a full password-hashing queue): retry shortly.
 */
export class OverloadedError extends AppError {
  override name = 'OverloadedError'
  constructor (retryAfterSeconds = 1) {
    super('SERVICE_UNAVAILABLE', 'The service is overloaded; retry shortly', { 'retry-after': String(retryAfterSeconds) })
  }
}

/** Readiness while the service sheds load: the backing services may all be up. */
export const notReadyShedding = (services: Record<string, 'up' | 'down'>, retryAfterSeconds: number): AppError =>
  new AppError('NOT_READY', 'Not ready: shedding load (event-loop delay, heap or resident memory past its limit)',
    { 'retry-after': String(retryAfterSeconds) }, { services })

/** A backing service (SQL, MongoDB) failed or timed out: the client may retry shortly. */
export class ServiceUnavailableError extends AppError {
  override name = 'ServiceUnavailableError'
  constructor (readonly service: string, options?: { cause?: unknown }) {
    super('SERVICE_UNAVAILABLE', 'A backing service is unavailable; try again shortly', { 'retry-after': '5' })
    if (options?.cause !== undefined) this.cause = options.cause
  }
}
