import type { BookStore, ReviewStore, UserStore } from '../types'
import { createBookStore } from './books'
import type { SqlDialect } from './dialect'
import { createReviewStore } from './reviews'
import { createUserStore } from './users'

export interface SqlStores {
  users: UserStore
  books: BookStore
  /** Used while MONGODB_URL is unset. */
  reviews: ReviewStore
}

/** The user, book and review stores, written once, over either dialect. */
export function createSqlStores (db: SqlDialect): SqlStores {
  return { users: createUserStore(db), books: createBookStore(db), reviews: createReviewStore(db) }
}
