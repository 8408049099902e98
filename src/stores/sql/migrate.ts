import type { SqlDialect } from './dialect'
import { MIGRATIONS_TABLE, migrations } from './migrations'

/**
 * Applies every migration not yet recorded, holding the dialect's lock so two instances
 * starting together apply each version once. Returns the versions applied.
 *
 * On SQLite the whole run is one transaction. MySQL commits DDL implicitly, so there a
 * version is not atomic: each is written so that its statements finish it, and it is
 * recorded last.
 */
export async function migrate (db: SqlDialect): Promise<number[]> {
  return db.exclusive(async (conn) => {
    await conn.run(MIGRATIONS_TABLE[db.name])
    const done = new Set((await conn.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)))
    const applied: number[] = []
    for (const m of migrations) {
      if (done.has(m.version)) continue
      for (const statement of m[db.name]) await conn.run(statement)
      if (m.backfill !== undefined) await m.backfill(conn, db)
      await conn.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
        [m.version, m.name, db.toDbTime(new Date().toISOString())])
      applied.push(m.version)
    }
    return applied
  })
}
