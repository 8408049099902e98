import type { Permission } from './permission'

export interface User {
  id: number
  email: string
  permission: Permission
  created_at: string
}

export interface UserRecord extends User {
  password_hash: string
}

export interface BookInput {
  title: string
  author: string
  published_at?: string | null
  description?: string | null
  isbn?: string | null
  total_pages?: number | null
}

export interface Book {
  id: number
  title: string
  author: string
  published_at: string | null
  description: string | null
  isbn: string | null
  total_pages: number | null
  created_at: string
  updated_at: string
}

export interface ReviewInput {
  book_id: number
  user_id: number
  author: string
  title: string
  content: string
}

export interface Review {
  id: string
  book_id: number
  author: string
  title: string
  content: string
  created_at: string
  updated_at: string
}

/** What the store keeps beyond the public body: who may edit it. */
export interface ReviewRecord extends Review {
  user_id: number
}

/** A review as clients see it: the writer's user id stays with the store. */
export function publicReview ({ user_id: _userId, ...review }: ReviewRecord): Review {
  return review
}

export interface Page {
  offset: number
  limit: number
  /** A plain, case-insensitive substring; never a pattern. */
  q?: string | undefined
}
