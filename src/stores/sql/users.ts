import { emailTaken, lastAdmin } from '../../domain/errors'
import { isPermission, Permission } from '../../domain/permission'
import type { User, UserRecord } from '../../schemas/user'
import type { UserStore } from '../types'
import type { SqlDialect } from './dialect'

interface UserRow { id: number, email: string, password_hash: string, permission: number, created_at: string, email_verified: number | boolean }

const COLUMNS = 'id, email, permission, created_at, email_verified'

export function createUserStore (db: SqlDialect): UserStore {
  const userOf = (row: UserRow): User => {
    // The column's CHECK keeps it in range; this keeps the type honest.
    if (!isPermission(row.permission)) throw new Error(`user ${row.id} has permission ${row.permission}, which is no level`)
    return { id: Number(row.id), email: row.email, permission: row.permission, created_at: db.fromDbTime(row.created_at), email_verified: Number(row.email_verified) === 1 }
  }
  const byId = async (id: number): Promise<User | undefined> => {
    const row = await db.get<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = ?`, [id])
    return row === undefined ? undefined : userOf(row)
  }

  return {
    async create ({ email, password_hash: hash, permission, email_verified: verified = false }) {
      const createdAt = new Date().toISOString()
      try {
        const { insertId } = await db.run('INSERT INTO users (email, password_hash, permission, created_at, email_verified) VALUES (?, ?, ?, ?, ?)',
          [email, hash, permission, db.toDbTime(createdAt), verified ? 1 : 0])
        return { id: insertId, email, permission, created_at: createdAt, email_verified: verified }
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
      const changed = await db.transaction(async (tx) => {
        // Lock every Admin row first (a no-op write): a concurrent lowering waits here until
        // this one commits, and then sees its result (MySQL); SQLite's write lock does the same.
        await tx.run('UPDATE users SET permission = permission WHERE permission = ?', [Permission.Admin])
        // The condition is the guard: an Admin is lowered only while another Admin remains.
        const { changes } = await tx.run(`UPDATE users SET permission = ? WHERE id = ? AND (? = ? OR permission <> ? OR EXISTS (
          SELECT 1 FROM (SELECT id FROM users WHERE permission = ?) AS admins WHERE admins.id <> ?))`,
        [permission, id, permission, Permission.Admin, Permission.Admin, Permission.Admin, id])
        if (changes > 0) return true
        if (await tx.get('SELECT id FROM users WHERE id = ?', [id]) === undefined) return false
        throw lastAdmin()
      })
      return changed ? byId(id) : undefined
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
      // so what the caller reads next already includes every other locker's commit.
      await db.run('UPDATE users SET email_verified = email_verified WHERE id = ?', [id])
      return byId(id)
    }
  }
}
