import fp from 'fastify-plugin'
import fastifyMongodb from '@fastify/mongodb'
import { MongoClient } from 'mongodb'
import { MONGO_CLIENT_OPTIONS } from '../../src/stores/mongodb/reviews'
import { waitFor } from '../../src/wait-for'

/** Registered by plugins/app/stores.ts, the one reader of which database is configured. */
export const autoload = false

/** @fastify/mongodb, after waiting for the server with backoff. */
export default fp<{ url: string }>(async function mongodbClientPlugin (fastify, { url }) {
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
}, { name: 'mongodb-client' })
