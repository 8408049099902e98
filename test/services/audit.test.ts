import t from 'tap'
import type { AuditDetails, AuditEvent } from '../../src/schemas/audit'
import { auditEntry, commandContext, createAuditService } from '../../src/services/audit'

const CTX = { ip: '192.0.2.1', requestId: 'req-1', actorId: 3 }

t.test('auditEntry: who, where and which request from the context; nothing that could be a secret or an address', async (t) => {
  t.same(auditEntry('book.created', CTX, { userId: null, details: { book_id: 4 } }),
    { type: 'book.created', user_id: null, actor_id: 3, ip: '192.0.2.1', request_id: 'req-1', details: { book_id: 4 } })
  t.same(auditEntry('user.signed_out', CTX, { userId: 3 }).details, {}, 'details default to none')
  const refused: AuditDetails[] = [{ password: 'x' }, { refresh_token: 'x' }, { api_key: 1 }, { code: '123456' }, { secret: 'x' }, { email: 'x' }, { new_email: null }, { note: 'someone@example.com' }]
  for (const details of refused) {
    t.throws(() => auditEntry('user.email_changed', CTX, { userId: 3, details }), /audit details may not hold/, JSON.stringify(details))
  }
})

t.test('commandContext: no address or user, a request id new for each run', async (t) => {
  const a = commandContext('seed')
  const b = commandContext('seed')
  t.match(a, { ip: 'local', actorId: null, requestId: /^seed-[0-9a-f-]{36}$/ })
  t.not(a.requestId, b.requestId)
})

t.test('list: the next page starts before the last event of a full page, and only then', async (t) => {
  const event = (id: number): AuditEvent => ({ id, type: 'user.signed_in', at: '2026-01-01T00:00:00.000Z', user_id: 1, actor_id: 1, ip: '::1', request_id: 'r', details: {} })
  const asked: unknown[] = []
  const service = createAuditService({
    audit: {
      list: async (filter) => { asked.push(filter); return [9, 8, 7].slice(0, filter.limit).map(event) },
      verify: async () => ({ events: 9, valid: true })
    }
  })
  t.same((await service.list({ limit: 2, type: 'user.signed_in' })).next, { before: 8 })
  t.same((await service.list({ limit: 3 })).next, { before: 7 })
  t.same((await service.list({ limit: 5 })).next, undefined, 'a page that is not full is the last')
  t.same(asked, [{ limit: 2, type: 'user.signed_in' }, { limit: 3 }, { limit: 5 }])
  t.same(await service.verify(), { events: 9, valid: true })
})
