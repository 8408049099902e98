import type { BookStore, ReviewStore, SessionStore, UserStore } from '../types'
import { createBookStore } from './books'
import type { SqlDialect } from './dialect'
import { createReviewStore } from './reviews'
import { createSessionStore } from './sessions'
import { createUserStore } from './users'

export interface SqlStores {
  users: UserStore
  books: BookStore
  /** Used while MONGODB_URL is unset. */
  reviews: ReviewStore
  sessions: SessionStore
}

/** The user, book, review and session stores, written once, over either dialect. */
export function createSqlStores (db: SqlDialect): SqlStores {
  return { users: createUserStore(db), books: createBookStore(db), reviews: createReviewStore(db), sessions: createSessionStore(db) }
}
