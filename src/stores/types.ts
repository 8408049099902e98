import type { Book, BookInput } from '../schemas/book'
import type { Review, ReviewInput, ReviewRecord } from '../schemas/review'
import type { User, UserRecord } from '../schemas/user'
import type { Permission } from '../domain/permission'

/**
 * The store contract. Every backend (SQLite, MySQL, MongoDB) implements these unchanged and
 * runs the same contract suite in test/stores/. Stores speak domain types, never HTTP; every
 * member is an async method, so src/stores/guard.ts can bound each one.
 */
export interface UserStore {
  /** Inserts; a duplicate email (already normalised) rejects with EMAIL_TAKEN, enforced by a unique index. */
  create (input: { email: string, password_hash: string, permission: Permission }): Promise<User>
  findByEmail (email: string): Promise<UserRecord | undefined>
  get (id: number): Promise<User | undefined>
  setPermission (id: number, permission: Permission): Promise<User | undefined>
  setPasswordHash (id: number, passwordHash: string): Promise<void>
}

export interface Page {
  offset: number
  limit: number
  /** A plain, case-insensitive substring; never a pattern. */
  q?: string | undefined
}

export interface BookStore {
  /** Ordered by id; `q` is a case-insensitive plain substring of title or author. */
  list (page: Page): Promise<Book[]>
  get (id: number): Promise<Book | undefined>
  create (input: BookInput): Promise<Book>
  /** Full replacement of the writable fields; undefined when there is no such book. */
  update (id: number, input: BookInput): Promise<Book | undefined>
  /** Removes the book only: its reviews are the review store's (src/services/books.ts). */
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
  /** Removes every review of a book; how many went (0 where a foreign key already took them). */
  deleteByBook (bookId: number): Promise<number>
}

/** A database connection the readiness probe pings and the app closes. */
export interface Backend {
  readonly name: string
  ping (): Promise<void>
  close (): Promise<void>
}
