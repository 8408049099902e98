import { isPermission, type Permission } from '../../domain/permission'
import type { ApiKey } from '../../schemas/api-key'
import type { ApiKeyAccess, ApiKeyStore } from '../types'
import type { SqlDialect } from './dialect'

interface KeyRow {
  id: string
  name: string
  permission: number
  created_at: string
  expires_at: string
  last_used_at: string | null
}

interface AccessRow {
  id: string
  user_id: number
  permission: number
  user_permission: number
  email: string
  email_verified: number
  expires_at: string
  revoked_at: string | null
  last_used_at: string | null
}

function level (value: unknown, what: string): Permission {
  const n = Number(value)
  if (!isPermission(n)) throw new Error(`${what} has permission ${String(value)}, which is no level`)
  return n
}

const LIVE = 'revoked_at IS NULL AND expires_at > ?'

/** API keys in the SQL database: only a SHA-256 of each key. */
export function createApiKeyStore (db: SqlDialect): ApiKeyStore {
  const fromRow = (row: KeyRow): ApiKey => ({
    id: row.id,
    name: row.name,
    permission: level(row.permission, `API key ${row.id}`),
    created_at: db.fromDbTime(row.created_at),
    expires_at: db.fromDbTime(row.expires_at),
    last_used_at: row.last_used_at === null ? null : db.fromDbTime(row.last_used_at)
  })

  return {
    async create ({ id, user_id: userId, key_hash: keyHash, name, permission, now, expires_at: expiresAt }) {
      await db.run(`INSERT INTO api_keys (id, user_id, key_hash, name, permission, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`, [id, userId, keyHash, name, permission, db.toDbTime(now), db.toDbTime(expiresAt)])
      return { id, name, permission, created_at: now, expires_at: expiresAt, last_used_at: null }
    },

    async countLive (userId, now) {
      const row = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ? AND ${LIVE}`, [userId, db.toDbTime(now)])
      return Number(row?.n ?? 0)
    },

    async listLive (userId, now) {
      const rows = await db.all<KeyRow>(`SELECT id, name, permission, created_at, expires_at, last_used_at FROM api_keys
        WHERE user_id = ? AND ${LIVE} ORDER BY created_at DESC, id DESC`, [userId, db.toDbTime(now)])
      return rows.map(fromRow)
    },

    async revoke (userId, id, now) {
      const { changes } = await db.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL', [db.toDbTime(now), id, userId])
      return changes === 1
    },

    async lookup (keyHash): Promise<ApiKeyAccess | undefined> {
      // By the unique index on key_hash, joined with the user by primary key: one read.
      const row = await db.get<AccessRow>(`SELECT k.id, k.user_id, k.permission, u.permission AS user_permission, u.email, u.email_verified,
        k.expires_at, k.revoked_at, k.last_used_at FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?`, [keyHash])
      if (row === undefined) return undefined
      return {
        id: row.id,
        user_id: Number(row.user_id),
        permission: level(row.permission, `API key ${row.id}`),
        user_permission: level(row.user_permission, `user ${row.user_id}`),
        email: row.email,
        email_verified: Number(row.email_verified) === 1,
        revoked: row.revoked_at !== null,
        expires_at: db.fromDbTime(row.expires_at),
        last_used_at: row.last_used_at === null ? null : db.fromDbTime(row.last_used_at)
      }
    },

    async touch (id, now, since) {
      // Conditional: of several instances touching one key in a minute, one write lands.
      const { changes } = await db.run('UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)',
        [db.toDbTime(now), id, db.toDbTime(since)])
      return changes === 1
    }
  }
}
