import type { RequestContext } from '../domain/context'
import type { AuditDetails, AuditEntry, AuditEventType } from '../schemas/audit'

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
