import type { PasskeyRecord, PasskeyStore } from '../types'
import type { SqlDialect } from './dialect'

interface Row {
  id: string
  user_id: number
  credential_id: string
  public_key: Uint8Array
  counter: number | string
  transports: string
  name: string
  created_at: string
  last_used_at: string | null
}

const COLUMNS = 'id, user_id, credential_id, public_key, counter, transports, name, created_at, last_used_at'

function parseTransports (stored: string): string[] {
  try {
    const value: unknown = JSON.parse(stored)
    return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : []
  } catch {
    return []
  }
}

/** Passkeys and WebAuthn challenges in the SQL database. */
export function createPasskeyStore (db: SqlDialect): PasskeyStore {
  const record = (row: Row): PasskeyRecord => ({
    id: row.id,
    user_id: Number(row.user_id),
    credential_id: row.credential_id,
    public_key: new Uint8Array(row.public_key),
    counter: Number(row.counter),
    transports: parseTransports(row.transports),
    name: row.name,
    created_at: db.fromDbTime(row.created_at),
    last_used_at: row.last_used_at === null ? null : db.fromDbTime(row.last_used_at)
  })

  return {
    async create ({ id, user_id: userId, credential_id: credentialId, public_key: publicKey, counter, transports, name, now }) {
      try {
        await db.run(`INSERT INTO passkeys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
          [id, userId, credentialId, Buffer.from(publicKey), counter, JSON.stringify(transports), name, db.toDbTime(now)])
      } catch (err) {
        if (db.isUniqueViolation(err)) return undefined
        throw err
      }
      return { id, user_id: userId, credential_id: credentialId, public_key: publicKey, counter, transports, name, created_at: now, last_used_at: null }
    },

    async list (userId) {
      const rows = await db.all<Row>(`SELECT ${COLUMNS} FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, [userId])
      return rows.map(record)
    },

    async findByCredentialId (credentialId) {
      const row = await db.get<Row>(`SELECT ${COLUMNS} FROM passkeys WHERE credential_id = ?`, [credentialId])
      return row === undefined ? undefined : record(row)
    },

    async remove (userId, id) {
      const { changes } = await db.run('DELETE FROM passkeys WHERE id = ? AND user_id = ?', [id, userId])
      return changes === 1
    },

    async recordUse (id, counter, now) {
      // The condition, not an earlier read, decides: of two sign-ins with one counter value only one moves it.
      const { changes } = await db.run('UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ? AND (counter < ? OR (counter = 0 AND ? = 0))',
        [counter, db.toDbTime(now), id, counter, counter])
      return changes === 1
    },

    async saveChallenge ({ challenge_hash: challengeHash, user_id: userId, purpose, expires_at: expiresAt }) {
      await db.run('INSERT INTO webauthn_challenges (challenge_hash, user_id, purpose, expires_at) VALUES (?, ?, ?, ?)',
        [challengeHash, userId, purpose, db.toDbTime(expiresAt)])
    },

    async spendChallenge (challengeHash, purpose, userId, now) {
      const at = db.toDbTime(now)
      const { changes } = userId === null
        ? await db.run(`UPDATE webauthn_challenges SET used_at = ? WHERE challenge_hash = ? AND purpose = ? AND user_id IS NULL
            AND used_at IS NULL AND expires_at > ?`, [at, challengeHash, purpose, at])
        : await db.run(`UPDATE webauthn_challenges SET used_at = ? WHERE challenge_hash = ? AND purpose = ? AND user_id = ?
            AND used_at IS NULL AND expires_at > ?`, [at, challengeHash, purpose, userId, at])
      return changes === 1
    },

    async sweepChallenges (now) {
      const { changes } = await db.run('DELETE FROM webauthn_challenges WHERE expires_at <= ?', [db.toDbTime(now)])
      return changes
    }
  }
}
