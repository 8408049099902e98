import fp from 'fastify-plugin'
import type { MySQLPromisePool } from '@fastify/mysql'
import { MYSQL_POOL_OPTIONS } from '../../src/stores/mysql/dialect'
import { startupWait, waitFor } from '../../src/wait-for'

declare module 'fastify' {
  interface FastifyInstance {
    /** @fastify/mysql's promise pool: registered only when DATABASE_URL is a mysql:// URL. */
    mysql?: MySQLPromisePool
  }
}

/**
 * Registered by plugins/app/stores.ts, the one reader of which database is configured.
 * Autoload still requires this file to read that, so the driver is required only inside.
 */
export const autoload = false

/**
 * @fastify/mysql (promise API, pooled). It checks the server at registration, so a server
 * that is down at start-up is first waited for (src/wait-for.ts: with backoff, a short
 * warning per attempt that never holds the password, for at most STARTUP_WAIT_SECONDS).
 */
export default fp<{ url: string }>(async function mysqlClientPlugin (fastify, { url }) {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { default: fastifyMysql } = require('@fastify/mysql') as typeof import('@fastify/mysql')
  const mysql = require('mysql2/promise') as typeof import('mysql2/promise')
  /* eslint-enable @typescript-eslint/no-require-imports */
  const log = fastify.log.child({ module: 'mysql' })
  await waitFor('mysql', async () => {
    const probe = await mysql.createConnection({ uri: url, connectTimeout: 1000 })
    try {
      await probe.query({ sql: 'SELECT 1', timeout: 1000 })
    } finally {
      probe.destroy()
    }
  }, startupWait(fastify, url, log))
  await fastify.register(fastifyMysql, { promise: true, uri: url, ...MYSQL_POOL_OPTIONS })
  log.info('mysql ready')
}, { name: 'mysql-client' })
