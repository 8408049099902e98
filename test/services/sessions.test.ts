import pino from 'pino'
import t, { type Test } from 'tap'
import { Permission } from '../../src/domain/permission'
import { createSessionService } from '../../src/services/sessions'
import { createSqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'

const CTX = { ip: '192.0.2.1', requestId: 'req-1', actorId: null }

/** A session service over SQLite whose audit log fails while `down` is set. */
async function setUp (t: Test) {
  const db = sqliteDialect(':memory:')
  t.teardown(() => db.close())
  await migrate(db)
  const sql = createSqlStores(db)
  const state = { down: false }
  const service = createSessionService({
    sessions: sql.sessions,
    users: sql.users,
    atomic: (fn) => sql.atomic((s) => fn(state.down ? { ...s, audit: { ...s.audit, append: async () => { throw new Error('audit down') } } } : s)),
    timeoutMs: 1000,
    refreshTokenDays: 30,
    log: pino({ level: 'silent' })
  })
  const user = await sql.users.create({ email: 'reader@example.com', password_hash: 'x', permission: Permission.User })
  return { sql, service, state, user }
}

t.test('a sign-in\'s session and its event commit together', async (t) => {
  const { sql, service, state, user } = await setUp(t)
  const { session } = await service.start(user.id, CTX)
  t.match(await sql.audit.list({ limit: 10 }), [{ type: 'user.signed_in', user_id: user.id, actor_id: user.id, details: { method: 'password' } }],
    'the user is the actor of their own sign-in')
  state.down = true
  await t.rejects(service.start(user.id, CTX), /audit down/)
  t.same((await sql.sessions.listLive(user.id, new Date().toISOString())).map((s) => s.id), [session.id], 'no session without its event')
})

t.test('a reused refresh token ends its session only with session.reuse_detected', async (t) => {
  const { sql, service, state, user } = await setUp(t)
  const { session, refreshToken } = await service.start(user.id, CTX)
  await service.refresh(refreshToken, CTX)
  state.down = true
  await t.rejects(service.refresh(refreshToken, CTX), /audit down/)
  t.equal((await sql.sessions.access(session.id))?.ended, false, 'the end rolled back with its event')
  state.down = false
  await t.rejects(service.refresh(refreshToken, CTX), { code: 'REFRESH_TOKEN_REUSED' })
  t.equal((await sql.sessions.access(session.id))?.ended, true)
  t.match((await sql.audit.list({ limit: 1 }))[0], { type: 'session.reuse_detected', user_id: user.id, actor_id: null, details: {} })
})

t.test('sign-outs: the ending and user.signed_out together; ending nothing records nothing', async (t) => {
  const { sql, service, state, user } = await setUp(t)
  const ctx = { ...CTX, actorId: user.id }
  const a = (await service.start(user.id, CTX)).session
  const b = (await service.start(user.id, CTX)).session
  await service.start(user.id, CTX)
  const signedOut = async () => (await sql.audit.list({ type: 'user.signed_out', limit: 10 })).map((e) => e.details)

  state.down = true
  await t.rejects(service.signOut(user.id, b.id, a.id, ctx), /audit down/)
  t.equal((await sql.sessions.access(b.id))?.ended, false, 'not ended without its event')
  state.down = false
  await service.signOut(user.id, b.id, a.id, ctx)
  await t.rejects(service.signOut(user.id, b.id, a.id, ctx), { code: 'SESSION_NOT_FOUND' })
  await t.rejects(service.signOut(user.id + 1, a.id, a.id, ctx), { code: 'SESSION_NOT_FOUND' }, 'not another user\'s')
  t.same(await signedOut(), [{ scope: 'other', sessions: 1 }])
  t.equal(await service.signOutEverywhere(user.id, ctx), 2)
  t.same(await signedOut(), [{ scope: 'all', sessions: 2 }, { scope: 'other', sessions: 1 }])
  t.same(await sql.audit.verify(), { events: 5, valid: true })
})
