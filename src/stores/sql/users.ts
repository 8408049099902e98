import { emailTaken } from '../../domain/errors'
import { isPermission, type Permission } from '../../domain/permission'
import type { User, UserRecord } from '../../schemas/user'
import type { UserStore } from '../types'
import type { SqlDialect } from './dialect'

interface UserRow { id: number, email: string, password_hash: string, permission: number, created_at: string }

export function createUserStore (db: SqlDialect): UserStore {
  const userOf = (row: UserRow): User => {
    // The column's CHECK keeps it in range; this keeps the type honest.
    if (!isPermission(row.permission)) throw new Error(`user ${row.id} has permission ${row.permission}, which is no level`)
    return { id: row.id, email: row.email, permission: row.permission, created_at: db.fromDbTime(row.created_at) }
  }
  const byId = async (id: number): Promise<User | undefined> => {
    const row = await db.get<UserRow>('SELECT id, email, permission, created_at FROM users WHERE id = ?', [id])
    return row === undefined ? undefined : userOf(row)
  }

  return {
    async create ({ email, password_hash: hash, permission }) {
      const createdAt = new Date().toISOString()
      try {
        const { insertId } = await db.run('INSERT INTO users (email, password_hash, permission, created_at) VALUES (?, ?, ?, ?)',
          [email, hash, permission, db.toDbTime(createdAt)])
        return { id: insertId, email, permission, created_at: createdAt }
      } catch (err) {
        if (db.isUniqueViolation(err)) throw emailTaken()
        throw err
      }
    },
    async findByEmail (email) {
      const row = await db.get<UserRow>('SELECT id, email, password_hash, permission, created_at FROM users WHERE email = ?', [email])
      return row === undefined ? undefined : { ...userOf(row), password_hash: row.password_hash } satisfies UserRecord
    },
    get: byId,
    async setPermission (id, permission: Permission) {
      const { changes } = await db.run('UPDATE users SET permission = ? WHERE id = ?', [permission, id])
      return changes === 0 ? undefined : byId(id)
    },
    async setPasswordHash (id, hash) {
      await db.run('UPDATE users SET password_hash = ? WHERE id = ?', [hash, id])
    }
  }
}
