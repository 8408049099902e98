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
import { auditStoreContract } from './audit-store.contract'

// The audit contract needs a database per test (verify judges the whole log, and tampering
// spoils it), so it runs here rather than in the shared-database suites of each backend.

t.test('sqlite', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-audit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let n = 0
  auditStoreContract(t, async (t) => {
    const db = sqliteDialect(path.join(dir, `audit-${++n}.db`))
    t.teardown(() => db.close())
    await migrate(db)
    const stores = createSqlStores(db)
    // One connection per file in a process (a second would block the thread that holds the
    // lock): the instances are the one, its appends still interleaved by the event loop.
    return { stores, db, others: async (count) => Array.from({ length: count }, () => stores) }
  })
})

// As the MySQL store suite: DATABASE_URL's server when it names one, else a private MariaDB
// when its binaries are installed, else a loud skip.
const given = process.env.DATABASE_URL?.startsWith('mysql://') === true ? process.env.DATABASE_URL : undefined
if (given === undefined && !binaryAvailable('mariadbd')) {
  skipSuite(t, 'mysql', 'no mariadbd on PATH and no DATABASE_URL=mysql://user:pass@host:3306/db (npm run services installs and prints it)')
} else {
  t.test('mysql', async (t) => {
    let server: Throwaway | undefined
    if (given === undefined) server = await throwawayMariadb()
    t.teardown(async () => { await server?.dispose() })
    const serverUrl = given ?? server?.url ?? ''
    auditStoreContract(t, async (t) => {
      const scratch = await scratchMysql(serverUrl)
      const pools: mysql.Pool[] = []
      const instance = () => {
        const pool = mysql.createPool({ uri: scratch.url, ...MYSQL_POOL_OPTIONS })
        pools.push(pool)
        return mysqlDialect(pool)
      }
      t.teardown(async () => {
        await Promise.all(pools.map((p) => p.end()))
        await scratch.drop()
      })
      const db = instance()
      await migrate(db)
      return { stores: createSqlStores(db), db, others: async (count) => Array.from({ length: count }, () => createSqlStores(instance())) }
    })
  })
}
