import type { AccountTokenPurpose, AccountTokenStore } from '../types'
import type { SqlDialect } from './dialect'

/** Verification and reset tokens' hashes in the SQL database. */
export function createAccountTokenStore (db: SqlDialect): AccountTokenStore {
  return {
    async issue ({ token_hash: tokenHash, user_id: userId, purpose, email, now, expires_at: expiresAt }) {
      const at = db.toDbTime(now)
      await db.transaction(async (tx) => {
        await tx.run('UPDATE account_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL', [at, userId, purpose])
        await tx.run(`INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
          VALUES (?, ?, ?, ?, ?, ?)`, [tokenHash, userId, purpose, email, at, db.toDbTime(expiresAt)])
      })
    },

    async consume (tokenHash, purposes, now) {
      if (purposes.length === 0) return undefined
      const at = db.toDbTime(now)
      return db.transaction(async (tx) => {
        // The conditional UPDATE decides: of two uses of one token, the second changes nothing.
        const { changes } = await tx.run(`UPDATE account_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
          AND purpose IN (${purposes.map(() => '?').join(', ')})`, [at, tokenHash, at, ...purposes])
        if (changes !== 1) return undefined
        const row = await tx.get<{ user_id: number, purpose: AccountTokenPurpose, email: string | null }>(
          'SELECT user_id, purpose, email FROM account_tokens WHERE token_hash = ?', [tokenHash])
        return row === undefined ? undefined : { user_id: Number(row.user_id), purpose: row.purpose, email: row.email }
      })
    },

    async countSince (userId, purpose, since) {
      const row = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM account_tokens WHERE user_id = ? AND purpose = ? AND created_at >= ?',
        [userId, purpose, db.toDbTime(since)])
      return Number(row?.n ?? 0)
    },

    async spendAll (userId, purpose, now) {
      await db.run('UPDATE account_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL', [db.toDbTime(now), userId, purpose])
    }
  }
}
