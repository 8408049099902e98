import { Type, type Static } from '@sinclair/typebox'
import { Id, ObjectIdString, Timestamp } from './common'

export const Review = Type.Object({
  id: ObjectIdString(),
  book_id: Id(),
  author: Type.String(),
  title: Type.String(),
  content: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp
}, { $id: 'Review', title: 'Review' })
export type Review = Static<typeof Review>

/**
 * What the store keeps beyond the public body: who may edit it, and `version` (1 at creation,
 * +1 on every successful update; conditional writes compare it). Never answered.
 */
export type ReviewRecord = Review & { user_id: number, version: number }
export type ReviewInput = Omit<ReviewRecord, 'id' | 'created_at' | 'updated_at' | 'version'>

/** A review as clients see it: the writer's user id and the version stay with the store. */
export function publicReview ({ user_id: _userId, version: _version, ...review }: ReviewRecord): Review {
  return review
}

export const ReviewCreateBody = Type.Object({
  book_id: Id(),
  title: Type.String({ minLength: 1, maxLength: 255 }),
  content: Type.String({ minLength: 1, maxLength: 10000 }),
  author: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "Display name; default: the writer's email" }))
}, {
  additionalProperties: false,
  examples: [{ book_id: 1, title: 'Still sharp', content: 'Two centuries on, the dialogue still cuts.', author: 'A. Reader' }]
})
export type ReviewCreate = Static<typeof ReviewCreateBody>

export const ReviewUpdateBody = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 255 }),
  content: Type.String({ minLength: 1, maxLength: 10000 })
}, { additionalProperties: false, examples: [{ title: 'Sharper on a second reading', content: 'The irony lands harder the second time.' }] })
export type ReviewUpdate = Static<typeof ReviewUpdateBody>
