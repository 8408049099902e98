import fp from 'fastify-plugin'
import fastifyMongodb from '@fastify/mongodb'
import { MongoClient } from 'mongodb'
import { waitFor } from '../../src/wait-for'

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
} as const

/** @fastify/mongodb when MONGODB_URL is set, after waiting for the server with backoff. */
export default fp(async function mongodbClientPlugin (fastify) {
  const url = fastify.config.mongodbUrl
  if (url === undefined) return
  const log = fastify.log.child({ module: 'mongodb' })
  await waitFor('mongodb', async () => {
    const probe = new MongoClient(url, MONGO_CLIENT_OPTIONS)
    try {
      await probe.db().command({ ping: 1 })
    } finally {
      await probe.close(true)
    }
  }, { log })
  await fastify.register(fastifyMongodb, { url, forceClose: true, ...MONGO_CLIENT_OPTIONS })
  log.info('mongodb ready')
}, { name: 'mongodb-client', dependencies: ['config'] })
