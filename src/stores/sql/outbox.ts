import type { ClaimedMessage, OutboxStore } from '../types'
import type { SqlDialect } from './dialect'

interface MessageRow {
  id: number, user_id: number | null, recipient: string, subject: string, text_body: string, html_body: string,
  attempts: number, created_at: string
}

/** Candidates read beyond `limit`, for the ones other instances take first. */
const CONTENDED = 8

/** The mail outbox in the SQL database (src/mail/ sends from it). */
export function createOutboxStore (db: SqlDialect): OutboxStore {
  return {
    async enqueue (message, now) {
      const at = db.toDbTime(now)
      const { insertId } = await db.run(`INSERT INTO outbox (user_id, recipient, subject, text_body, html_body, created_at, next_attempt_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)`, [message.user_id, message.to, message.subject, message.text, message.html, at, at])
      return insertId
    },

    async claim (now, leaseUntil, limit) {
      const at = db.toDbTime(now)
      // More candidates than wanted: another instance may claim the first ones meanwhile, and
      // losing those should not leave this one idle while others are due.
      const due = await db.all<{ id: number }>(`SELECT id FROM outbox WHERE next_attempt_at <= ?
        AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_attempt_at, id LIMIT ?`, [at, at, limit + CONTENDED])
      const claimed: ClaimedMessage[] = []
      for (const { id } of due) {
        if (claimed.length === limit) break
        // The conditional UPDATE is the claim: of two instances reading the same due row, one
        // changes it and sends; the other changes nothing and moves on.
        const { changes } = await db.run(`UPDATE outbox SET claimed_until = ?, attempts = attempts + 1
          WHERE id = ? AND (claimed_until IS NULL OR claimed_until <= ?)`, [db.toDbTime(leaseUntil), id, at])
        if (changes !== 1) continue
        const row = await db.get<MessageRow>(`SELECT id, user_id, recipient, subject, text_body, html_body, attempts, created_at
          FROM outbox WHERE id = ?`, [id])
        // Gone between the claim and the read: its account was deleted meanwhile.
        if (row === undefined) continue
        claimed.push({
          id: Number(row.id),
          user_id: row.user_id === null ? null : Number(row.user_id),
          to: row.recipient,
          subject: row.subject,
          text: row.text_body,
          html: row.html_body,
          attempts: Number(row.attempts),
          created_at: db.fromDbTime(row.created_at)
        })
      }
      return claimed
    },

    async remove (id) {
      await db.run('DELETE FROM outbox WHERE id = ?', [id])
    },

    async retryLater (id, nextAttemptAt, error) {
      await db.run('UPDATE outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?',
        [db.toDbTime(nextAttemptAt), error.slice(0, 255), id])
    }
  }
}
