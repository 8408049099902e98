import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Permission } from '../domain/permission'

/** Every error, Fastify's own included, answers this shape. */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  code: Type.String({ description: 'Stable machine-readable code, e.g. TOKEN_REQUIRED' }),
  error: Type.String({ description: 'The HTTP reason phrase' }),
  message: Type.String({ description: 'A human sentence' }),
  details: Type.Optional(Type.Array(Type.Object({
    path: Type.String({ description: 'JSON pointer into the request part' }),
    message: Type.String()
  }))),
  request_id: Type.Optional(Type.String({ description: 'Set on 5xx: quote it when reporting the problem' })),
  services: Type.Optional(Type.Record(Type.String(), Type.String(), {
    description: 'GET /health/ready only: each configured backing service, "up" or "down"'
  }))
}, { $id: 'ErrorResponse', title: 'ErrorResponse' })

export const IdParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: 2147483647, description: 'Numeric id' })
})

export const ReviewIdParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{24}$', description: '24 hex digits' })
})

export const PermissionLevel = Type.Integer({
  minimum: Permission.None,
  maximum: Permission.Admin,
  description: '0 None, 1 User, 2 Author, 3 Admin'
})

/** `o` and `limit` as the contract pages them; `limit` defaults to the configured page size. */
export const PageQuery = Type.Object({
  o: Type.Integer({ minimum: 0, default: 0, description: 'Offset' }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Page length (default: PAGE_SIZE)' })),
  q: Type.Optional(Type.String({ maxLength: 255, description: 'Case-insensitive plain substring' }))
}, { additionalProperties: false })

const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' })

export const Book = Type.Object({
  id: Type.Integer(),
  title: Type.String(),
  author: Type.String(),
  published_at: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  isbn: Type.Union([Type.String(), Type.Null()]),
  total_pages: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp
}, { $id: 'Book', title: 'Book' })

export const BookBody = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 255 }),
  author: Type.String({ minLength: 1, maxLength: 255 }),
  published_at: Type.Optional(Type.String({ format: 'date', description: 'YYYY-MM-DD' })),
  description: Type.Optional(Type.String({ maxLength: 10000 })),
  isbn: Type.Optional(Type.String({ minLength: 10, maxLength: 17, pattern: '^[0-9-]+X?$', description: 'Digits and hyphens, optionally a final X' })),
  total_pages: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647 }))
}, {
  additionalProperties: false,
  // The example fills the explorer's "Try it out" with a body the service accepts.
  examples: [{
    title: 'Pride and Prejudice',
    author: 'Jane Austen',
    published_at: '1813-01-28',
    description: 'A novel of manners set in rural England',
    isbn: '978-0-14-143951-8',
    total_pages: 432
  }]
})
export type BookBody = Static<typeof BookBody>

export const Review = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{24}$' }),
  book_id: Type.Integer(),
  author: Type.String(),
  title: Type.String(),
  content: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp
}, { $id: 'Review', title: 'Review' })

export const ReviewCreateBody = Type.Object({
  book_id: Type.Integer({ minimum: 1, maximum: 2147483647 }),
  title: Type.String({ minLength: 1, maxLength: 255 }),
  content: Type.String({ minLength: 1, maxLength: 10000 }),
  author: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "Display name; default: the writer's email" }))
}, {
  additionalProperties: false,
  examples: [{ book_id: 1, title: 'Still sharp', content: 'Two centuries on, the dialogue still cuts.', author: 'A. Reader' }]
})

export const ReviewUpdateBody = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 255 }),
  content: Type.String({ minLength: 1, maxLength: 10000 })
}, { additionalProperties: false, examples: [{ title: 'Sharper on a second reading', content: 'The irony lands harder the second time.' }] })

export const User = Type.Object({
  id: Type.Integer(),
  email: Type.String(),
  permission: PermissionLevel,
  created_at: Timestamp
}, { $id: 'User', title: 'User' })

export const SignUpBody = Type.Object({
  email: Type.String({ format: 'email', maxLength: 254 }),
  password: Type.String({ minLength: 8, maxLength: 128, description: '8 to 128 characters, not on the common breached-password list' })
}, { additionalProperties: false, examples: [{ email: 'reader@example.com', password: 'a long and unusual passphrase' }] })

export const SignInBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 128 })
}, { additionalProperties: false, examples: [{ email: 'reader@example.com', password: 'a long and unusual passphrase' }] })

export const PermissionBody = Type.Object({
  permission: PermissionLevel
}, { additionalProperties: false, examples: [{ permission: 2 }] })

const ERROR_MEANINGS: Record<number, string> = {
  400: 'Invalid input: VALIDATION_ERROR (with details), INVALID_JSON, PASSWORD_TOO_COMMON',
  401: 'TOKEN_REQUIRED, TOKEN_INVALID ("failed to decode token"), TOKEN_EXPIRED ("invalid token") or INVALID_CREDENTIALS',
  403: 'FORBIDDEN: the token\'s level is too low, or the review is someone else\'s',
  404: 'The book, review or user does not exist',
  409: 'EMAIL_TAKEN, or CANNOT_LOWER_OWN_PERMISSION',
  413: 'PAYLOAD_TOO_LARGE: the body is over 64 KiB',
  415: 'UNSUPPORTED_MEDIA_TYPE: send application/json',
  429: 'RATE_LIMITED or TOO_MANY_SIGN_IN_FAILURES; see Retry-After',
  500: 'INTERNAL_ERROR: quote request_id when reporting it',
  503: 'SERVICE_UNAVAILABLE (or NOT_READY): a backing service is down; see Retry-After'
}

/** A response header as the OpenAPI document shows it (@fastify/swagger reads `headers`). */
interface HeaderDoc { type: 'string', description: string }

const RETRY_AFTER: Record<string, HeaderDoc> = { 'Retry-After': { type: 'string', description: 'Seconds to wait before retrying' } }
const ERROR_HEADERS: Record<number, Record<string, HeaderDoc>> = {
  401: { 'WWW-Authenticate': { type: 'string', description: 'Bearer, with error="invalid_token" when the token is bad or expired' } },
  429: RETRY_AFTER,
  503: RETRY_AFTER
}

/** The header every 201 answers with. */
export const LOCATION: Record<string, HeaderDoc> = { Location: { type: 'string', description: 'The URL of the created resource' } }

/** A reference to the one error shape, which src/app.ts registers with addSchema. */
export const errorRef = (status: number) => Type.Ref(ErrorResponse, {
  description: ERROR_MEANINGS[status] ?? 'Error',
  ...(ERROR_HEADERS[status] === undefined ? {} : { headers: ERROR_HEADERS[status] })
})

/**
 * Responses for each error status a route can answer, all in the one shape. 500 and 503 are
 * added to every route that uses this: any route can fail inside, and every one of them
 * reaches a store (the routes that do not, / and /health/*, list theirs with errorRef).
 */
export function errors (...statuses: number[]): Record<number, ReturnType<typeof errorRef>> {
  return Object.fromEntries([...new Set([...statuses, 500, 503])].map((s) => [s, errorRef(s)]))
}

/**
 * A success body with the sentence (and headers) the docs show for it, instead of
 * "Default Response". The copy drops a shared schema's `$id`, so two routes describing the
 * same schema differently never register one name twice; serialization is unchanged.
 */
export function success<T extends TSchema> (schema: T, description: string, headers?: Record<string, HeaderDoc>): T {
  const copy: T = { ...schema, description, ...(headers === undefined ? {} : { headers }) }
  delete copy.$id
  return copy
}
