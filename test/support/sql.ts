import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import mysql from 'mysql2/promise'
import type { Test } from 'tap'
import { MYSQL_POOL_OPTIONS, mysqlDialect } from '../../src/stores/mysql/dialect'
import type { SqlDialect } from '../../src/stores/sql/dialect'
import { migrate } from '../../src/stores/sql/migrate'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'
import { skipSuite } from './app'
import { binaryAvailable, scratchMysql, throwawayMariadb, type Throwaway } from './servers'

/** Two connections to one migrated database, as two instances of the service hold them. */
export type SqlPair = readonly [SqlDialect, SqlDialect]

/**
 * Runs `suite` once per SQL backend, each time on a fresh database with two connections to it:
 * SQLite on a file, and MySQL (DATABASE_URL's server, or a private MariaDB). Where neither is
 * there, the MySQL run is skipped loudly.
 */
export function onEachSqlBackend (t: Test, what: string, suite: (t: Test, pair: SqlPair) => void | Promise<void>): void {
  t.test(`${what} on SQLite (two connections to one file)`, async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-pair-'))
    const file = path.join(dir, 'pair.db')
    const pair = [sqliteDialect(file), sqliteDialect(file)] as const
    t.teardown(async () => {
      for (const db of pair) await db.close()
      rmSync(dir, { recursive: true, force: true })
    })
    await migrate(pair[0])
    await suite(t, pair)
  })

  const given = process.env.DATABASE_URL?.startsWith('mysql://') === true ? process.env.DATABASE_URL : undefined
  if (given === undefined && !binaryAvailable('mariadbd')) {
    skipSuite(t, `${what} on MySQL`, 'no mariadbd on PATH and no DATABASE_URL=mysql://user:pass@host:3306/db (npm run services installs and prints it)')
    return
  }
  t.test(`${what} on MySQL (two pools to one database)`, async (t) => {
    const server: Throwaway | undefined = given === undefined ? await throwawayMariadb() : undefined
    const scratch = await scratchMysql(given ?? server?.url ?? '')
    const pools = [mysql.createPool({ uri: scratch.url, ...MYSQL_POOL_OPTIONS }), mysql.createPool({ uri: scratch.url, ...MYSQL_POOL_OPTIONS })] as const
    t.teardown(async () => {
      for (const pool of pools) await pool.end()
      await scratch.drop()
      await server?.dispose()
    })
    const pair = [mysqlDialect(pools[0]), mysqlDialect(pools[1])] as const
    await migrate(pair[0])
    await suite(t, pair)
  })
}
