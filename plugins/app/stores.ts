import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Pool } from 'mysql2/promise'
import type { DatabaseTarget } from '../../config/schema'
import { guardStore } from '../../src/stores/guard'
import { MYSQL_POOL_OPTIONS, mysqlDialect } from '../../src/stores/mysql/dialect'
import { createReplicaRouter, trackingWrites, type ReplicaRouter, type ReplicaStatus } from '../../src/stores/mysql/replicas'
import type { ReadStores, RoutedReads } from '../../src/stores/reads'
import { createBookStore } from '../../src/stores/sql/books'
import { createUserStore } from '../../src/stores/sql/users'
import type { SqlDialect } from '../../src/stores/sql/dialect'
import { createSqlStores, type SqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'
import type { Backend } from '../../src/stores/types'

/** The SQL stores (reviews from MongoDB when it is configured), guarded, and what readiness pings. */
interface Stores extends SqlStores {
  /** Each configured database, for readiness. */
  backends: Backend[]
  /** The schema versions this start-up applied (npm run migrate reports them). */
  migrated: number[]
  /** SQLite on a file: changes when another process commits to it (the in-process cache follows it). */
  dataVersion?: () => number
  /** Only with DATABASE_REPLICA_URLS: the uncached reads of books and users, a replica's when one is current enough. */
  reads?: RoutedReads
  /** Only with DATABASE_REPLICA_URLS: each read replica's state (the metrics). */
  replicaStatus?: () => ReplicaStatus[]
}

declare module 'fastify' {
  interface FastifyInstance {
    stores: Stores
  }
}

/** The SQL database DATABASE_URL names, its client registered and closed with the app. */
async function openSql (fastify: FastifyInstance, database: DatabaseTarget): Promise<{ sql: SqlDialect, pool?: Pool }> {
  switch (database.kind) {
    case 'sqlite': {
      const db = sqliteDialect(database.file, { tracing: fastify.tracing })
      fastify.addHook('onClose', () => db.close())
      return { sql: db }
    }
    case 'mysql': {
      // Required only when configured: the embedded default never holds the MySQL driver.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { default: mysqlClient } = require('../external/mysql') as typeof import('../external/mysql')
      await fastify.register(mysqlClient, { url: database.url })
      if (fastify.mysql === undefined) throw new Error('@fastify/mysql registered no pool')
      return { sql: mysqlDialect(fastify.mysql.pool, { tracing: fastify.tracing }), pool: fastify.mysql.pool }
    }
  }
}

/**
 * A pool per DATABASE_REPLICA_URLS entry and the router over them (src/stores/mysql/replicas.ts).
 * A replica down at start-up delays nothing: it is skipped until a poll answers.
 */
function openReplicas (fastify: FastifyInstance, primary: Pool, urls: readonly string[], primaryStores: ReadStores): ReplicaRouter {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mysql = require('mysql2/promise') as typeof import('mysql2/promise')
  const { replicaMaxLagSeconds, backendTimeoutMs } = fastify.config
  // Half the request's bound: a frozen replica's read still leaves the primary time to answer.
  const readTimeoutMs = Math.max(25, Math.floor(backendTimeoutMs / 2))
  const pools = urls.map((uri) => mysql.createPool({ uri, ...MYSQL_POOL_OPTIONS }))
  const router = createReplicaRouter({
    primary,
    primaryStores,
    replicas: pools.map((pool, i) => {
      const db = mysqlDialect(pool, { queryTimeoutMs: readTimeoutMs })
      return { name: `replica-${i + 1}`, pool, stores: { books: createBookStore(db), users: createUserStore(db) } }
    }),
    maxLagSeconds: replicaMaxLagSeconds,
    readTimeoutMs,
    log: fastify.log.child({ module: 'replicas' })
  })
  fastify.addHook('onClose', async () => {
    router.stop()
    await Promise.all(pools.map((pool) => pool.end()))
  })
  return router
}

/**
 * The only reader of which databases are configured: SQLite or MySQL for books and users (and
 * for reviews while MONGODB_URL is unset), MongoDB for reviews when it is set. Migrations run
 * here, before anything reads. Every store is guarded: a dead or frozen database answers 503
 * within backendTimeoutMs, never hangs.
 */
export default fp(async function storesPlugin (fastify) {
  const { database, mongodbUrl, backendTimeoutMs, databaseReplicaUrls } = fastify.config
  const opened = await openSql(fastify, database)
  const replicated = opened.pool !== undefined && databaseReplicaUrls.length > 0
  let router: ReplicaRouter | undefined
  // With replicas, every commit records the primary's position before it is acknowledged
  // (read-your-writes); the migrations below run before any request, so before the router.
  const sql = replicated ? trackingWrites(opened.sql, async () => { await router?.noteWrite() }) : opened.sql
  const migrated = await migrate(sql)
  if (migrated.length > 0) fastify.log.info({ versions: migrated }, `${sql.name} migrations applied`)
  const stores = createSqlStores(sql)
  const backends: Backend[] = [sql]

  let reviews = guardStore(stores.reviews, sql.name, backendTimeoutMs)
  if (mongodbUrl !== undefined) {
    // Required only when configured: the MongoDB driver alone is some 20 MB of memory.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { default: mongodbClient } = require('../external/mongodb') as typeof import('../external/mongodb')
    const { createMongoReviewStore, ensureReviewIndexes } = require('../../src/stores/mongodb/reviews') as typeof import('../../src/stores/mongodb/reviews')
    /* eslint-enable @typescript-eslint/no-require-imports */
    await fastify.register(mongodbClient, { url: mongodbUrl })
    const db = fastify.mongo.db
    if (db === undefined) throw new Error('MONGODB_URL must name a database, e.g. mongodb://host:27017/bookstore')
    await ensureReviewIndexes(db)
    const mongo = createMongoReviewStore(db, fastify.tracing)
    backends.push(mongo.backend)
    reviews = guardStore(mongo.reviews, mongo.backend.name, backendTimeoutMs)
  }

  const guarded = {
    users: guardStore(stores.users, sql.name, backendTimeoutMs),
    books: guardStore(stores.books, sql.name, backendTimeoutMs, { unbounded: ['importMany'] }),
    sessions: guardStore(stores.sessions, sql.name, backendTimeoutMs),
    tokens: guardStore(stores.tokens, sql.name, backendTimeoutMs),
    outbox: guardStore(stores.outbox, sql.name, backendTimeoutMs),
    audit: guardStore(stores.audit, sql.name, backendTimeoutMs, { unbounded: ['verify'] }),
    passkeys: guardStore(stores.passkeys, sql.name, backendTimeoutMs),
    totp: guardStore(stores.totp, sql.name, backendTimeoutMs),
    apiKeys: guardStore(stores.apiKeys, sql.name, backendTimeoutMs),
    // The transaction as a whole is bounded: its statements run unguarded inside it.
    atomic: guardStore({ atomic: stores.atomic }, sql.name, backendTimeoutMs).atomic,
    reviews
  }
  if (replicated && opened.pool !== undefined) router = openReplicas(fastify, opened.pool, databaseReplicaUrls, guarded)
  fastify.decorate('stores', {
    ...guarded,
    backends,
    migrated,
    ...(router === undefined ? {} : { reads: router.read, replicaStatus: router.status }),
    ...(sql.dataVersion === undefined ? {} : { dataVersion: sql.dataVersion })
  })
}, { name: 'stores', dependencies: ['config'] })
