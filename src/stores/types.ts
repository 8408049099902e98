import type { Book, BookInput, Page, Review, ReviewInput, ReviewRecord, User, UserRecord } from '../domain/models'
import type { Permission } from '../domain/permission'

/**
 * The store contract. Every backend (SQLite, MySQL, MongoDB) implements these unchanged and
 * runs the same contract suite in test/stores/. Stores speak domain types, never HTTP.
 */
export interface UserStore {
  /** Inserts; a duplicate email (already normalised) rejects with EMAIL_TAKEN, enforced by a unique index. */
  create (input: { email: string, password_hash: string, permission: Permission }): Promise<User>
  findByEmail (email: string): Promise<UserRecord | undefined>
  get (id: number): Promise<User | undefined>
  setPermission (id: number, permission: Permission): Promise<User | undefined>
  setPasswordHash (id: number, passwordHash: string): Promise<void>
}

export interface BookStore {
  /** Ordered by id; `q` is a case-insensitive plain substring of title or author. */
  list (page: Page): Promise<Book[]>
  get (id: number): Promise<Book | undefined>
  create (input: BookInput): Promise<Book>
  /** Full replacement of the writable fields; undefined when there is no such book. */
  update (id: number, input: BookInput): Promise<Book | undefined>
  /** Removes the book, and its reviews too when this store also holds them (one transaction). */
  delete (id: number): Promise<boolean>
}

export interface ReviewStore {
  /** Newest first; `q` is a case-insensitive plain substring of title or content. */
  listByBook (bookId: number, page: Page): Promise<Review[]>
  /** Undefined for an unknown or malformed id. */
  get (id: string): Promise<ReviewRecord | undefined>
  create (input: ReviewInput): Promise<ReviewRecord>
  update (id: string, input: { title: string, content: string }): Promise<ReviewRecord | undefined>
  delete (id: string): Promise<boolean>
  deleteByBook (bookId: number): Promise<number>
}

/** A connection the readiness probe can check and the app must close. */
export interface BackendHandle {
  readonly name: string
  ping (): Promise<void>
  close (): Promise<void>
}

export interface SqlBackend extends BackendHandle {
  users: UserStore
  books: BookStore
  /** Reviews in the same database, used while MONGODB_URL is unset. */
  reviews: ReviewStore
}
