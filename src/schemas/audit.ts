import { Type, type Static } from '@sinclair/typebox'
import { Timestamp } from './common'

/** Every type of audit event the contract names ("Audit log"). */
export const AUDIT_EVENT_TYPES = [
  'user.signed_up', 'user.signed_in', 'user.sign_in_failed', 'user.signed_out', 'session.reuse_detected',
  'user.password_changed', 'user.password_reset_requested', 'user.password_reset', 'user.email_verified',
  'user.email_changed', 'user.permission_changed', 'user.deleted', 'totp.enabled', 'totp.disabled',
  'passkey.added', 'passkey.removed', 'api_key.created', 'api_key.revoked', 'book.created', 'book.updated', 'book.deleted'
] as const
export type AuditEventType = typeof AUDIT_EVENT_TYPES[number]

/**
 * What an event says beyond who and where: small scalars only. Never a password, token, key,
 * code, secret or email address (the contract's rule; src/services/audit.ts enforces it).
 */
export type AuditDetails = Record<string, string | number | boolean | null>

export const AuditEvent = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  type: Type.Union(AUDIT_EVENT_TYPES.map((t) => Type.Literal(t))),
  at: Timestamp,
  user_id: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'The account the event is about' }),
  actor_id: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Who caused it: the same user, an Admin, or null' }),
  ip: Type.String({ description: 'The client address' }),
  request_id: Type.String({ description: 'The X-Request-Id of the request that caused it' }),
  details: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]))
}, { $id: 'AuditEvent', title: 'AuditEvent' })
export type AuditEvent = Static<typeof AuditEvent> & { type: AuditEventType, details: AuditDetails }

/** An event as a service hands it to the store: the store gives it its id, time and place in the chain. */
export type AuditEntry = Omit<AuditEvent, 'id' | 'at'>

/** GET /audit-events/verify: how many events are stored, and whether the chain holds. */
export const AuditVerification = Type.Object({
  events: Type.Integer({ minimum: 0, description: 'How many events are stored' }),
  valid: Type.Boolean({ description: 'Whether every stored event is where the chain says, as it was written' }),
  first_invalid_id: Type.Optional(Type.Integer({
    minimum: 1,
    description: 'Only when not valid: the first event altered, the one after a removed one (or the removed newest), or one inserted out of the chain'
  }))
}, { $id: 'AuditVerification', title: 'AuditVerification' })
