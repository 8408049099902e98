import { Type, type Static } from '@sinclair/typebox'
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
  services: Type.Optional(Type.Record(Type.String(), Type.String()))
}, { $id: 'ErrorResponse', title: 'Error' })

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
}, { additionalProperties: false })
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
}, { additionalProperties: false })

export const ReviewUpdateBody = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 255 }),
  content: Type.String({ minLength: 1, maxLength: 10000 })
}, { additionalProperties: false })

export const User = Type.Object({
  id: Type.Integer(),
  email: Type.String(),
  permission: PermissionLevel,
  created_at: Timestamp
}, { $id: 'User', title: 'User' })

export const SignUpBody = Type.Object({
  email: Type.String({ format: 'email', maxLength: 254 }),
  password: Type.String({ minLength: 8, maxLength: 128 })
}, { additionalProperties: false })

export const SignInBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 128 })
}, { additionalProperties: false })

export const PermissionBody = Type.Object({
  permission: PermissionLevel
}, { additionalProperties: false })

/** Responses for each error status a route can answer, all in the one shape. */
export function errors (...statuses: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorResponse]))
}
