/**
 * `npm run migrate`: applies the schema migrations the configured SQL database lacks (the app
 * also does this at start-up) and says which ran.
 */
import mysql from 'mysql2/promise'
import { ConfigError, loadConfig } from '../config/load'
import { MYSQL_POOL_OPTIONS, migrateMysql } from '../src/stores/mysql'
import { migrateSqlite, openSqlite } from '../src/stores/sqlite'

async function main (): Promise<void> {
  const { databaseUrl } = loadConfig({ env: process.env })
  let applied: number[]
  if (databaseUrl.startsWith('mysql://')) {
    const pool = mysql.createPool({ uri: databaseUrl, ...MYSQL_POOL_OPTIONS })
    try {
      applied = await migrateMysql(pool)
    } finally {
      await pool.end()
    }
  } else {
    const db = openSqlite(databaseUrl)
    try {
      applied = migrateSqlite(db)
    } finally {
      db.close()
    }
  }
  const where = databaseUrl.replace(/\/\/[^@/]*@/, '//')
  console.log(applied.length === 0 ? `${where}: up to date` : `${where}: applied migration(s) ${applied.join(', ')}`)
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
