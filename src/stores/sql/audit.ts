import { createHash } from 'node:crypto'
import type { AuditDetails, AuditEntry, AuditEvent, AuditEventType } from '../../schemas/audit'
import type { AuditStore } from '../types'
import type { SqlDialect, SqlValue } from './dialect'

interface EventRow {
  id: number, type: AuditEventType, at: string, user_id: number | null, actor_id: number | null,
  ip: string, request_id: string, details: string, prev_hash: string, hash: string
}

const COLUMNS = 'id, type, at, user_id, actor_id, ip, request_id, details, prev_hash, hash'

/** Rows verify() reads at a time. */
const VERIFY_BATCH = 1000

/**
 * The hash that chains `event` to its predecessor: SHA-256 over the predecessor's hash and
 * every field of the event, in a fixed order with the details' keys sorted, so an event
 * cannot be changed, moved or dropped without its hash (or its successor's) telling.
 */
export function chainHash (prevHash: string, event: AuditEvent): string {
  const details = Object.fromEntries(Object.entries(event.details).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  const fields = [event.id, event.type, event.at, event.user_id, event.actor_id, event.ip, event.request_id, details]
  return createHash('sha256').update(prevHash).update('\n').update(JSON.stringify(fields)).digest('hex')
}

/** The append-only audit log in the SQL database, chained by audit_head's one row. */
export function createAuditStore (db: SqlDialect): AuditStore {
  const eventOf = (row: EventRow): AuditEvent => ({
    id: Number(row.id),
    type: row.type,
    at: db.fromDbTime(row.at),
    user_id: row.user_id === null ? null : Number(row.user_id),
    actor_id: row.actor_id === null ? null : Number(row.actor_id),
    ip: row.ip,
    request_id: row.request_id,
    details: JSON.parse(row.details) as AuditDetails
  })

  return {
    async append (entry: AuditEntry, at: string) {
      // Hashed as it will be read back: DATETIME(3) and TEXT both keep milliseconds, no more, no less.
      const when = new Date(at).toISOString()
      return db.transaction(async (tx) => {
        // Taking the next id is a real write to the head row: it waits for the appender before
        // to commit, then works on the latest committed row, and this transaction sees its own
        // change even when it read the head earlier (a caller's stores.atomic: REPEATABLE READ's
        // snapshot would otherwise show a stale head, and two events would share a predecessor).
        // SQLite's write lock does the same.
        await tx.run('UPDATE audit_head SET last_id = last_id + 1 WHERE id = 1')
        const head = await tx.get<{ last_id: number, last_hash: string }>('SELECT last_id, last_hash FROM audit_head WHERE id = 1')
        if (head === undefined) throw new Error('audit_head has no row: the schema is not migrated')
        const event: AuditEvent = { id: Number(head.last_id), at: when, ...entry }
        const hash = chainHash(head.last_hash, event)
        await tx.run(`INSERT INTO audit_events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
          event.id, event.type, db.toDbTime(when), event.user_id, event.actor_id, event.ip, event.request_id,
          JSON.stringify(event.details), head.last_hash, hash
        ])
        await tx.run('UPDATE audit_head SET last_hash = ? WHERE id = 1', [hash])
        return event
      })
    },

    async list ({ user_id: userId, type, before, limit }) {
      const where: string[] = []
      const params: SqlValue[] = []
      if (userId !== undefined) { where.push('user_id = ?'); params.push(userId) }
      if (type !== undefined) { where.push('type = ?'); params.push(type) }
      if (before !== undefined) { where.push('id < ?'); params.push(before) }
      const rows = await db.all<EventRow>(`SELECT ${COLUMNS} FROM audit_events ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
        ORDER BY id DESC LIMIT ?`, [...params, limit])
      return rows.map(eventOf)
    },

    async verify () {
      // One statement, so one snapshot: the head, how many events it covers, and the first
      // event beyond it. A head and the event it names commit together, so an event past the
      // head in the same snapshot was put there by hand: inserted out of the chain. Events
      // appended while the walk runs come after this head and are not judged.
      const start = await db.get<{ last_id: number, last_hash: string, chained: number, stray: number | null, beyond: number }>(
        `SELECT h.last_id, h.last_hash,
          (SELECT COUNT(*) FROM audit_events e WHERE e.id <= h.last_id) AS chained,
          (SELECT MIN(e.id) FROM audit_events e WHERE e.id > h.last_id) AS stray,
          (SELECT COUNT(*) FROM audit_events e WHERE e.id > h.last_id) AS beyond
        FROM audit_head h WHERE h.id = 1`)
      if (start === undefined) throw new Error('audit_head has no row: the schema is not migrated')
      const lastId = Number(start.last_id)
      const events = Number(start.chained) + Number(start.beyond)
      const invalid = (id: number) => ({ events, valid: false as const, first_invalid_id: id })
      let prev = ''
      let expectedId = 1
      for (let after = 0; ;) {
        const rows = await db.all<EventRow>(`SELECT ${COLUMNS} FROM audit_events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?`,
          [after, lastId, VERIFY_BATCH])
        if (rows.length === 0) break
        for (const row of rows) {
          const id = Number(row.id)
          let event: AuditEvent | undefined
          try { event = eventOf(row) } catch { event = undefined }
          // An id skipped means an event removed: the first one after the gap is where the chain breaks.
          if (id !== expectedId || row.prev_hash !== prev || event === undefined || chainHash(prev, event) !== row.hash) return invalid(id)
          prev = row.hash
          expectedId = id + 1
        }
        after = Number(rows[rows.length - 1]?.id)
      }
      // The newest events removed: the head still names them, and the first of them is where the chain breaks.
      if (expectedId - 1 !== lastId || prev !== start.last_hash) return invalid(expectedId)
      if (start.stray !== null) return invalid(Number(start.stray))
      return { events, valid: true as const }
    }
  }
}
