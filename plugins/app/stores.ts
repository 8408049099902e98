import fp from 'fastify-plugin'
import { createSqliteBackend } from '../../src/stores/sqlite'
import type { BackendHandle, BookStore, ReviewStore, UserStore } from '../../src/stores/types'

export interface Stores {
  users: UserStore
  books: BookStore
  reviews: ReviewStore
  /** Set when reviews live in another database than books, so a book's deletion must reach them. */
  externalReviews: ReviewStore | undefined
  /** What /health/ready pings. */
  backends: BackendHandle[]
}

declare module 'fastify' {
  interface FastifyInstance {
    stores: Stores
  }
}

/** Picks the backend from DATABASE_URL (and, later, MONGODB_URL); routes never know which. */
export default fp(async function storesPlugin (fastify) {
  const sql = createSqliteBackend(fastify.config.databaseUrl)
  fastify.decorate('stores', {
    users: sql.users,
    books: sql.books,
    reviews: sql.reviews,
    externalReviews: undefined,
    backends: [sql]
  })
  fastify.addHook('onClose', async () => {
    await sql.close()
  })
}, { name: 'stores', dependencies: ['config'] })
