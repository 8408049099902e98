import type { MongoClientOptions } from 'mongodb'

/**
 * The driver's defaults wait 30 s to select a server; these make a dead or frozen server fail
 * an operation within about a second. FerretDB (and a standalone mongod) has no replica set,
 * so retryable writes are off. On a replica set (`?replicaSet=` in MONGODB_URL) or behind a
 * sharded cluster's routers, the contract's promise: a review is acknowledged once a majority
 * holds it (so a failover cannot take it back), and read from the primary (so a read after
 * it shows it); on a single server both mean what they always did.
 */
export const MONGO_CLIENT_OPTIONS = {
  serverSelectionTimeoutMS: 1000,
  connectTimeoutMS: 1000,
  socketTimeoutMS: 5000,
  maxPoolSize: 10,
  retryWrites: false,
  retryReads: false,
  writeConcern: { w: 'majority' },
  readPreference: 'primary'
} as const satisfies MongoClientOptions
