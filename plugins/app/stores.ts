import fp from 'fastify-plugin'
import { guardStore } from '../../src/stores/guard'
import { createMongoReviewStore, ensureReviewIndexes } from '../../src/stores/mongodb'
import { createMysqlBackend, migrateMysql } from '../../src/stores/mysql'
import { createSqliteBackend } from '../../src/stores/sqlite'
import type { BackendHandle, BookStore, ReviewStore, SqlBackend, UserStore } from '../../src/stores/types'

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

/**
 * Picks the backends from the configuration: SQLite or MySQL for books and users (and for
 * reviews while MONGODB_URL is unset), MongoDB for reviews when it is set. Every store is
 * guarded: a dead or frozen database answers 503 within backendTimeoutMs, never hangs.
 */
export default fp(async function storesPlugin (fastify) {
  const { databaseUrl, mongodbUrl, backendTimeoutMs } = fastify.config
  let sql: SqlBackend
  if (databaseUrl.startsWith('mysql://')) {
    const applied = await migrateMysql(fastify.mysql.pool)
    if (applied.length > 0) fastify.log.info({ versions: applied }, 'mysql migrations applied')
    sql = createMysqlBackend(fastify.mysql.pool)
  } else {
    sql = createSqliteBackend(databaseUrl)
    fastify.addHook('onClose', async () => {
      await sql.close()
    })
  }

  const guard = <T extends object>(store: T, name: string): T => guardStore(store, name, backendTimeoutMs)
  const backends: BackendHandle[] = [sql]
  let reviews = guard(sql.reviews, sql.name)
  let externalReviews: ReviewStore | undefined
  if (mongodbUrl !== undefined) {
    const db = fastify.mongo.db
    if (db === undefined) throw new Error('MONGODB_URL must name a database, e.g. mongodb://host:27017/bookstore')
    await ensureReviewIndexes(db)
    const mongo = createMongoReviewStore(db)
    backends.push(mongo)
    reviews = guard(mongo, mongo.name)
    externalReviews = reviews
  }

  fastify.decorate('stores', {
    users: guard(sql.users, sql.name),
    books: guard(sql.books, sql.name),
    reviews,
    externalReviews,
    backends
  })
}, { name: 'stores', dependencies: ['config', 'mysql-client', 'mongodb-client'] })
