import type { BookStore, UserStore } from './types'

/**
 * How current a routed read must be. `own-writes`: it shows every write this instance has
 * acknowledged, and nothing older than the replica lag bound. `current`: it shows every write
 * the primary had committed when the read began (what may be put into a shared cache).
 */
export type Freshness = 'own-writes' | 'current'

/** The store reads the public GET routes of books and users make: the only ones a replica may answer. */
export interface ReadStores {
  books: Pick<BookStore, 'list' | 'get'>
  users: Pick<UserStore, 'list' | 'get'>
}

/** Runs `fn` on the stores of a replica current enough, or on the primary's. */
export type RoutedReads = <T>(freshness: Freshness, fn: (stores: ReadStores) => Promise<T>) => Promise<T>

