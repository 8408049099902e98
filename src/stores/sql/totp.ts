import type { TotpRecord, TotpStore } from '../types'
import type { SqlDialect } from './dialect'

interface TotpRow { user_id: number, secret: string, enabled_at: string | null, last_step: number | string }

/** TOTP secrets and recovery code digests in the SQL database (tables of migration 6). */
export function createTotpStore (db: SqlDialect): TotpStore {
  const recordOf = (row: TotpRow): TotpRecord =>
    ({ user_id: Number(row.user_id), secret: row.secret, enabled: row.enabled_at !== null, last_step: Number(row.last_step) })

  return {
    async get (userId) {
      const row = await db.get<TotpRow>('SELECT user_id, secret, enabled_at, last_step FROM user_totp WHERE user_id = ?', [userId])
      return row === undefined ? undefined : recordOf(row)
    },

    async setPending (userId, secret, now) {
      const at = db.toDbTime(now)
      const replace = async (): Promise<boolean> => db.transaction(async (tx) => {
        // Only a pending row is replaced: the condition keeps an enabled secret whatever races it.
        const { changes } = await tx.run('UPDATE user_totp SET secret = ?, last_step = 0, created_at = ? WHERE user_id = ? AND enabled_at IS NULL',
          [secret, at, userId])
        if (changes > 0) return true
        if (await tx.get('SELECT user_id FROM user_totp WHERE user_id = ?', [userId]) !== undefined) return false
        await tx.run('INSERT INTO user_totp (user_id, secret, last_step, created_at) VALUES (?, ?, 0, ?)', [userId, secret, at])
        return true
      })
      try {
        return await replace()
      } catch (err) {
        // Another request inserted the row first: it exists now, so the UPDATE path decides.
        if (db.isUniqueViolation(err)) return replace()
        throw err
      }
    },

    async enable (userId, secret, step, hashes, now) {
      const at = db.toDbTime(now)
      return db.transaction(async (tx) => {
        const { changes } = await tx.run(`UPDATE user_totp SET enabled_at = ?, last_step = ?
          WHERE user_id = ? AND enabled_at IS NULL AND secret = ? AND last_step < ?`, [at, step, userId, secret, step])
        if (changes !== 1) return false
        await tx.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId])
        for (const hash of hashes) await tx.run('INSERT INTO recovery_codes (code_hash, user_id) VALUES (?, ?)', [hash, userId])
        return true
      })
    },

    async disable (userId) {
      return db.transaction(async (tx) => {
        await tx.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId])
        const { changes } = await tx.run('DELETE FROM user_totp WHERE user_id = ?', [userId])
        return changes > 0
      })
    },

    async acceptStep (userId, step) {
      // The one check of replay: of two requests with one code, on any instances, one changes the row.
      const { changes } = await db.run('UPDATE user_totp SET last_step = ? WHERE user_id = ? AND enabled_at IS NOT NULL AND last_step < ?',
        [step, userId, step])
      return changes === 1
    },

    async spendRecoveryCode (userId, codeHash, now) {
      const { changes } = await db.run(`UPDATE recovery_codes SET used_at = ? WHERE code_hash = ? AND user_id = ? AND used_at IS NULL
        AND EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = ? AND t.enabled_at IS NOT NULL)`, [db.toDbTime(now), codeHash, userId, userId])
      return changes === 1
    },

    async recoveryCodesLeft (userId) {
      const row = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL', [userId])
      return Number(row?.n ?? 0)
    }
  }
}
