import { isPermission } from '../../domain/permission'
import type { SessionRecord } from '../../schemas/session'
import type { SessionAccess, SessionStore } from '../types'
import type { SqlDialect } from './dialect'

const COLUMNS = 'id, user_id, created_at, last_used_at, expires_at'

interface SessionRow { id: string, user_id: number, created_at: string, last_used_at: string, expires_at: string }
interface AccessRow { user_id: number, permission: number, email_verified: number | boolean, expires_at: string, ended_at: string | null }

/** Sessions in the SQL database: the one place a refresh token's hash is spent. */
export function createSessionStore (db: SqlDialect): SessionStore {
  const recordOf = (row: SessionRow): SessionRecord => ({
    id: row.id,
    user_id: Number(row.user_id),
    created_at: db.fromDbTime(row.created_at),
    last_used_at: db.fromDbTime(row.last_used_at),
    expires_at: db.fromDbTime(row.expires_at)
  })

  return {
    async create ({ id, user_id: userId, token_hash: tokenHash, now, expires_at: expiresAt }) {
      const at = db.toDbTime(now)
      await db.transaction(async (tx) => {
        await tx.run(`INSERT INTO sessions (${COLUMNS}) VALUES (?, ?, ?, ?, ?)`, [id, userId, at, at, db.toDbTime(expiresAt)])
        await tx.run('INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)', [tokenHash, id, at])
      })
      return { id, user_id: userId, created_at: now, last_used_at: now, expires_at: expiresAt }
    },

    async rotate (tokenHash, newHash, now) {
      const at = db.toDbTime(now)
      return db.transaction(async (tx) => {
        // The conditional UPDATE is the decision: of two callers with one hash, the second
        // waits on the first's row lock (MySQL) or transaction (SQLite) and then changes nothing.
        const spent = await tx.run('UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ? AND spent_at IS NULL', [at, tokenHash])
        if (spent.changes === 1) {
          const row = await tx.get<SessionRow>(`SELECT ${COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')} FROM refresh_tokens t
            JOIN sessions s ON s.id = t.session_id WHERE t.token_hash = ? AND s.ended_at IS NULL AND s.expires_at > ?`, [tokenHash, at])
          if (row === undefined) return { outcome: 'invalid' as const }
          await tx.run('INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?, ?, ?)', [newHash, row.id, at])
          await tx.run('UPDATE sessions SET last_used_at = ? WHERE id = ?', [at, row.id])
          return { outcome: 'rotated' as const, session: { ...recordOf(row), last_used_at: now } }
        }
        const known = await tx.get<{ session_id: string }>('SELECT session_id FROM refresh_tokens WHERE token_hash = ?', [tokenHash])
        if (known === undefined) return { outcome: 'invalid' as const }
        // Spent before: a replay. Only a live session can be ended by it (and say so).
        const ended = await tx.run('UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL AND expires_at > ?',
          [at, known.session_id, at])
        return ended.changes === 1 ? { outcome: 'reused' as const, sessionId: known.session_id } : { outcome: 'invalid' as const }
      })
    },

    async access (id): Promise<SessionAccess | undefined> {
      const row = await db.get<AccessRow>(`SELECT s.user_id, u.permission, u.email_verified, s.expires_at, s.ended_at FROM sessions s
        JOIN users u ON u.id = s.user_id WHERE s.id = ?`, [id])
      if (row === undefined) return undefined
      const permission = Number(row.permission)
      if (!isPermission(permission)) throw new Error(`user ${row.user_id} has permission ${row.permission}, which is no level`)
      return { user_id: Number(row.user_id), permission, email_verified: Number(row.email_verified) === 1, ended: row.ended_at !== null, expires_at: db.fromDbTime(row.expires_at) }
    },

    async listLive (userId, now) {
      const rows = await db.all<SessionRow>(`SELECT ${COLUMNS} FROM sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?
        ORDER BY created_at DESC, id DESC`, [userId, db.toDbTime(now)])
      return rows.map(recordOf)
    },

    async end (userId, id, now) {
      const at = db.toDbTime(now)
      const { changes } = await db.run('UPDATE sessions SET ended_at = ? WHERE id = ? AND user_id = ? AND ended_at IS NULL AND expires_at > ?',
        [at, id, userId, at])
      return changes === 1
    },

    async endAll (userId, now, exceptId) {
      const at = db.toDbTime(now)
      return db.transaction(async (tx) => {
        // Each one ended by its own conditional UPDATE: the ids returned are exactly those this
        // call ended (a concurrent call, or one a millisecond earlier, ends none of them twice).
        const open = await tx.all<{ id: string }>('SELECT id FROM sessions WHERE user_id = ? AND ended_at IS NULL AND id <> ?',
          [userId, exceptId ?? ''])
        const ended: string[] = []
        for (const { id } of open) {
          if ((await tx.run('UPDATE sessions SET ended_at = ? WHERE id = ? AND ended_at IS NULL', [at, id])).changes > 0) ended.push(id)
        }
        return ended
      })
    },

    async liveIds (userId, now) {
      const rows = await db.all<{ id: string }>('SELECT id FROM sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?',
        [userId, db.toDbTime(now)])
      return rows.map((r) => r.id)
    }
  }
}
