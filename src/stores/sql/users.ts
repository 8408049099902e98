import { emailTaken, lastAdmin } from '../../domain/errors'
import { isPermission, Permission } from '../../domain/permission'
import type { User, UserRecord } from '../../schemas/user'
import type { UserStore } from '../types'
import type { SqlDialect, SqlExecutor, SqlValue } from './dialect'

interface UserRow { id: number, email: string, password_hash: string, permission: number, created_at: string, email_verified: number | boolean, totp_enabled: number | boolean }

// totp_enabled is read in the same statement as the user: GET /users/me stays one look-up.
const COLUMNS = 'id, email, permission, created_at, email_verified, ' +
  'EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = users.id AND t.enabled_at IS NOT NULL) AS totp_enabled'

/**
 * Locks the user rows `where` matches by writing to them: lock_seq, a column nothing reads,
 * counts up, so the statement really changes each row and no column a user sees is touched. A
 * write that changes nothing (SET x = x) takes InnoDB's row lock, but no replication sees it:
 * on Galera (or Group Replication) a transaction on another node that "locked" the same row
 * that way and then wrote only other rows (a new API key, a token) would certify and commit
 * beside this one. A real change to the row makes the two conflict, and the loser runs again
 * after the winner, seeing its rows. Inside a transaction only (outside one it locks nothing).
 */
async function lockRows (tx: SqlExecutor, where: string, params: SqlValue[]): Promise<void> {
  await tx.run(`UPDATE users SET lock_seq = lock_seq + 1 WHERE ${where}`, params)
}

export function createUserStore (db: SqlDialect): UserStore {
  const userOf = (row: UserRow): User => {
    // The column's CHECK keeps it in range; this keeps the type honest.
    if (!isPermission(row.permission)) throw new Error(`user ${row.id} has permission ${row.permission}, which is no level`)
    return { id: Number(row.id), email: row.email, permission: row.permission, created_at: db.fromDbTime(row.created_at), email_verified: Number(row.email_verified) === 1, totp_enabled: Number(row.totp_enabled) === 1 }
  }
  const byId = async (id: number): Promise<User | undefined> => {
    const row = await db.get<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = ?`, [id])
    return row === undefined ? undefined : userOf(row)
  }

  /**
   * The last-Admin guard, for every write that could leave no Admin (a lowering, a deletion):
   * `write` runs under `guard`, a condition true while user `id` is no Admin or another Admin
   * remains. True when it changed a row; false when there is no such user; LAST_ADMIN when
   * the guard held it back. Guard and write are one transaction, after every Admin row is
   * locked (lockRows): a concurrent guarded write waits here until this one commits, and
   * then sees its result (MySQL; on Galera it fails certification and runs again); SQLite's
   * write lock does the same. So two Admins removing each other at the same moment cannot
   * leave none.
   */
  const keepingAnAdmin = (id: number, change: 'lowered' | 'deleted',
    write: (tx: SqlExecutor, guard: { sql: string, params: SqlValue[] }) => Promise<{ changes: number }>): Promise<boolean> =>
    db.transaction(async (tx) => {
      await lockRows(tx, 'permission = ?', [Permission.Admin])
      // The derived table lets MySQL read the table the statement writes.
      const guard = {
        sql: `(permission <> ? OR EXISTS (SELECT 1 FROM (SELECT id FROM users WHERE permission = ?) AS admins WHERE admins.id <> ?))`,
        params: [Permission.Admin, Permission.Admin, id]
      }
      if ((await write(tx, guard)).changes > 0) return true
      if (await tx.get('SELECT id FROM users WHERE id = ?', [id]) === undefined) return false
      throw lastAdmin(change)
    })

  return {
    async create ({ email, password_hash: hash, permission, email_verified: verified = false }) {
      const createdAt = new Date().toISOString()
      try {
        const { insertId } = await db.run('INSERT INTO users (email, password_hash, permission, created_at, email_verified) VALUES (?, ?, ?, ?, ?)',
          [email, hash, permission, db.toDbTime(createdAt), verified ? 1 : 0])
        return { id: insertId, email, permission, created_at: createdAt, email_verified: verified, totp_enabled: false }
      } catch (err) {
        if (db.isUniqueViolation(err)) throw emailTaken()
        throw err
      }
    },
    async findByEmail (email) {
      const row = await db.get<UserRow>(`SELECT ${COLUMNS}, password_hash FROM users WHERE email = ?`, [email])
      return row === undefined ? undefined : { ...userOf(row), password_hash: row.password_hash } satisfies UserRecord
    },
    get: byId,
    async setPermission (id, permission: Permission) {
      // Raising, or setting a level on a non-Admin, never leaves no Admin: only a lowering is guarded.
      const changed = await keepingAnAdmin(id, 'lowered', (tx, guard) =>
        tx.run(`UPDATE users SET permission = ? WHERE id = ? AND (? = ? OR ${guard.sql})`,
          [permission, id, permission, Permission.Admin, ...guard.params]))
      return changed ? byId(id) : undefined
    },
    async delete (id) {
      return keepingAnAdmin(id, 'deleted', (tx, guard) => tx.run(`DELETE FROM users WHERE id = ? AND ${guard.sql}`, [id, ...guard.params]))
    },
    async list ({ offset, limit, q }) {
      const rows = q === undefined || q === ''
        ? await db.all<UserRow>(`SELECT ${COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?`, [limit, offset])
        : await db.all<UserRow>(`SELECT ${COLUMNS} FROM users WHERE ${db.contains('email')} ORDER BY id LIMIT ? OFFSET ?`,
          [q.toLowerCase(), limit, offset])
      return rows.map(userOf)
    },
    async setPasswordHash (id, hash) {
      await db.run('UPDATE users SET password_hash = ? WHERE id = ?', [hash, id])
    },
    async markVerified (id) {
      await db.run('UPDATE users SET email_verified = 1 WHERE id = ?', [id])
    },
    async setVerifiedEmail (id, email) {
      try {
        await db.run('UPDATE users SET email = ?, email_verified = 1 WHERE id = ?', [email, id])
      } catch (err) {
        if (db.isUniqueViolation(err)) throw emailTaken()
        throw err
      }
    },
    async lock (id) {
      // A write takes the row lock (MySQL) or the database's (SQLite) before anything is read,
      // so what the caller reads next already includes every other locker's commit. Callers run
      // it inside stores.atomic, whose transaction joins this one.
      return db.transaction(async (tx) => {
        await lockRows(tx, 'id = ?', [id])
        const row = await tx.get<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = ?`, [id])
        return row === undefined ? undefined : userOf(row)
      })
    }
  }
}
