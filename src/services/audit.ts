import { randomUUID } from 'node:crypto'
import type { RequestContext } from '../domain/context'
import type { AuditDetails, AuditEntry, AuditEvent, AuditEventType } from '../schemas/audit'
import type { AuditStore } from '../stores/types'

type AuditFilter = Parameters<AuditStore['list']>[0]

/**
 * What `details` may never hold (the contract: no password, token, key, code, secret or email
 * address): such a key, or any value that looks like an address, is a programming error,
 * refused before it is written rather than kept for good in an append-only log.
 */
const SECRET_KEY = /pass|token|secret|key|code|email|hash/i
const ADDRESS = /@/

/**
 * An audit event of `type` about `userId`, caused by the request in `ctx`: the one way every
 * service builds one, to append with stores.audit (inside the transaction of the change it
 * records, where there is one).
 */
export function auditEntry (type: AuditEventType, ctx: RequestContext, { userId, details = {} }: { userId: number | null, details?: AuditDetails }): AuditEntry {
  for (const [key, value] of Object.entries(details)) {
    if (SECRET_KEY.test(key) || (typeof value === 'string' && ADDRESS.test(value))) {
      throw new Error(`audit details may not hold ${key}: it could be a secret or an address`)
    }
  }
  return { type, user_id: userId, actor_id: ctx.actorId, ip: ctx.ip, request_id: ctx.requestId, details }
}

/**
 * The context of a change a command makes rather than a request (npm run seed): no client
 * address and no user; the request id names the command and is new for each run.
 */
export const commandContext = (command: string): RequestContext => ({ ip: 'local', requestId: `${command}-${randomUUID()}`, actorId: null })

/** What Admins read of the log (GET /audit-events): a page of events, and the chain's check. */
export function createAuditService ({ audit }: { audit: Pick<AuditStore, 'list' | 'verify'> }) {
  return {
    /** Newest first, `limit` of them, only ids below `before`; and where the next page starts when this one is full. */
    async list (filter: AuditFilter): Promise<{ events: AuditEvent[], next: { before: number } | undefined }> {
      const events = await audit.list(filter)
      const last = events.length === filter.limit ? events[events.length - 1] : undefined
      return { events, next: last === undefined ? undefined : { before: last.id } }
    },

    verify: () => audit.verify()
  }
}

export type AuditService = ReturnType<typeof createAuditService>
