import fp from 'fastify-plugin'
import { MONGO_CLIENT_OPTIONS } from '../../src/stores/mongodb/client'
import { startupWait, waitFor } from '../../src/wait-for'

/**
 * Registered by plugins/app/stores.ts, the one reader of which database is configured.
 * Autoload still requires this file to read that, so the driver is required only inside.
 */
export const autoload = false

/** @fastify/mongodb, after waiting for the server (src/wait-for.ts: with backoff, for at most STARTUP_WAIT_SECONDS). */
export default fp<{ url: string }>(async function mongodbClientPlugin (fastify, { url }) {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { default: fastifyMongodb } = require('@fastify/mongodb') as typeof import('@fastify/mongodb')
  const { MongoClient } = require('mongodb') as typeof import('mongodb')
  /* eslint-enable @typescript-eslint/no-require-imports */
  const log = fastify.log.child({ module: 'mongodb' })
  await waitFor('mongodb', async () => {
    const probe = new MongoClient(url, MONGO_CLIENT_OPTIONS)
    try {
      await probe.db().command({ ping: 1 })
    } finally {
      await probe.close(true)
    }
  }, startupWait(fastify, url, log))
  await fastify.register(fastifyMongodb, { url, forceClose: true, ...MONGO_CLIENT_OPTIONS })
  log.info('mongodb ready')
}, { name: 'mongodb-client' })
