import { Type, type Static } from '@sinclair/typebox'
import { Id, MAX_ID, Timestamp } from './common'

export const Book = Type.Object({
  id: Id(),
  title: Type.String(),
  author: Type.String(),
  published_at: Type.Union([Type.String({ format: 'date' }), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  isbn: Type.Union([Type.String(), Type.Null()]),
  total_pages: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp
}, { $id: 'Book', title: 'Book' })
export type Book = Static<typeof Book>

/**
 * A book as the store keeps it: `version` starts at 1 and grows by one on every successful
 * update; conditional writes (If-Match) compare it. Never answered as a field (the Book schema
 * has none, so the serializer drops it).
 */
export type BookRecord = Book & { version: number }

/** What create and replace take: every field but the id and the stamps. */
export const BookBody = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 255 }),
  author: Type.String({ minLength: 1, maxLength: 255 }),
  published_at: Type.Optional(Type.String({ format: 'date', description: 'YYYY-MM-DD' })),
  description: Type.Optional(Type.String({ maxLength: 10000 })),
  isbn: Type.Optional(Type.String({ minLength: 10, maxLength: 17, pattern: '^[0-9-]+X?$', description: 'Digits and hyphens, optionally a final X' })),
  total_pages: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ID }))
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
export type BookInput = Static<typeof BookBody>
