import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { Permission } from '../../src/domain/permission'
import { nextLink, nextPageUrl } from '../../src/http/links'
import { AUDIT_EVENT_TYPES, AuditEvent, AuditVerification, type AuditEventType } from '../../src/schemas/audit'
import { Id, listOf, ref } from '../../src/schemas/common'

/** The default page of events, as the contract sets it (not PAGE_SIZE, which is books'). */
const DEFAULT_LIMIT = 20

const AuditQuery = Type.Object({
  user_id: Type.Optional(Id({ description: 'Only events about this account' })),
  // An enum rather than a union of literals: one clear validation error for an unknown type.
  type: Type.Optional(Type.Unsafe<AuditEventType>({ type: 'string', enum: [...AUDIT_EVENT_TYPES], description: 'Only events of this type' })),
  before: Type.Optional(Id({ description: 'Only events with a smaller id (the next page of a full one)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_LIMIT, description: 'Page length' }))
}, { additionalProperties: false })

const LINK = { Link: { type: 'string' as const, description: 'On a full page: `<relative URL of the next page>; rel="next"`, keeping the filters and `limit`' } }

/** The audit log, for Admins: read it, and check that its chain holds. */
const auditEvents: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/', {
    onRequest: [fastify.requirePermission(Permission.Admin)],
    schema: {
      tags: ['audit'],
      summary: 'Audit events, newest first, filtered by user and type; page with `before` (Admin)',
      security: [{ bearerAuth: [] }],
      querystring: AuditQuery,
      response: { 200: listOf(AuditEvent, 'A page of events, newest first', LINK) }
    }
  }, async (request, reply) => {
    const { user_id: userId, type, before, limit = DEFAULT_LIMIT } = request.query
    const page = await fastify.audit.list({ user_id: userId, type, before, limit })
    if (page.next !== undefined) reply.header('link', nextLink(nextPageUrl('/audit-events', page.next, limit, undefined, { user_id: userId, type })))
    return page.events
  })

  fastify.get('/verify', {
    onRequest: [fastify.requirePermission(Permission.Admin)],
    schema: {
      tags: ['audit'],
      summary: 'Walk the hash chain: how many events, and the first altered, removed or inserted one (Admin)',
      security: [{ bearerAuth: [] }],
      response: { 200: ref(AuditVerification, 'The count, and whether the chain holds') }
    }
  }, async () => fastify.audit.verify())
}

export default auditEvents
