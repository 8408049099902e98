import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import mysql from 'mysql2/promise'
import t from 'tap'
import { MYSQL_POOL_OPTIONS, mysqlDialect } from '../../src/stores/mysql/dialect'
import { createSqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'
import { skipSuite } from '../support/app'
import { binaryAvailable, scratchMysql, throwawayMariadb, type Throwaway } from '../support/servers'
import { totpStoreContract } from './totp-store.contract'

// The TOTP store contract once per SQL backend, each with two connections to one database (two instances).
t.test('SQLite', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-totp-'))
  const file = path.join(dir, 'totp.db')
  const one = sqliteDialect(file)
  const two = sqliteDialect(file)
  t.teardown(async () => {
    await one.close()
    await two.close()
    rmSync(dir, { recursive: true, force: true })
  })
  await migrate(one)
  totpStoreContract(t, async () => ({ stores: createSqlStores(one), rival: createSqlStores(two) }))
})

const given = process.env.DATABASE_URL?.startsWith('mysql://') === true ? process.env.DATABASE_URL : undefined
if (given === undefined && !binaryAvailable('mariadbd')) {
  skipSuite(t, 'MySQL TOTP store', 'no mariadbd on PATH and no DATABASE_URL=mysql://user:pass@host:3306/db (npm run services installs and prints it)')
} else {
  t.test('MySQL', async (t) => {
    const server: Throwaway | undefined = given === undefined ? await throwawayMariadb() : undefined
    const scratch = await scratchMysql(given ?? server?.url ?? '')
    const pools = [mysql.createPool({ uri: scratch.url, ...MYSQL_POOL_OPTIONS }), mysql.createPool({ uri: scratch.url, ...MYSQL_POOL_OPTIONS })] as const
    t.teardown(async () => {
      for (const pool of pools) await pool.end()
      await scratch.drop()
      await server?.dispose()
    })
    await migrate(mysqlDialect(pools[0]))
    totpStoreContract(t, async () => ({ stores: createSqlStores(mysqlDialect(pools[0])), rival: createSqlStores(mysqlDialect(pools[1])) }))
  })
}
