import type { MongoClientOptions } from 'mongodb'

/**
 * The driver's defaults wait 30 s to select a server; these make a dead or frozen server fail
 * an operation within about a second. FerretDB (and a standalone mongod) has no replica set,
 * so retryable writes are off.
 */
export const MONGO_CLIENT_OPTIONS = {
  serverSelectionTimeoutMS: 1000,
  connectTimeoutMS: 1000,
  socketTimeoutMS: 5000,
  maxPoolSize: 10,
  retryWrites: false,
  retryReads: false
} as const satisfies MongoClientOptions
