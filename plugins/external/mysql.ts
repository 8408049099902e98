import fp from 'fastify-plugin'
import fastifyMysql, { type MySQLPromisePool } from '@fastify/mysql'
import mysql from 'mysql2/promise'
import { waitFor } from '../../src/wait-for'
import { MYSQL_POOL_OPTIONS } from '../../src/stores/mysql'

declare module 'fastify' {
  interface FastifyInstance {
    /** @fastify/mysql's promise pool; present only when DATABASE_URL is a mysql:// URL. */
    mysql: MySQLPromisePool
  }
}

/**
 * @fastify/mysql (promise API, pooled) when DATABASE_URL is mysql://. It checks the server at
 * registration, so a server that is down at start-up is first waited for, with backoff and a
 * warning per attempt (never the password), instead of failing the start in a loop.
 */
export default fp(async function mysqlClientPlugin (fastify) {
  const url = fastify.config.databaseUrl
  if (!url.startsWith('mysql://')) return
  const log = fastify.log.child({ module: 'mysql' })
  await waitFor('mysql', async () => {
    const probe = await mysql.createConnection({ uri: url, connectTimeout: 1000 })
    try {
      await probe.query({ sql: 'SELECT 1', timeout: 1000 })
    } finally {
      probe.destroy()
    }
  }, { log })
  await fastify.register(fastifyMysql, { promise: true, uri: url, ...MYSQL_POOL_OPTIONS })
  log.info('mysql ready')
}, { name: 'mysql-client', dependencies: ['config'] })
