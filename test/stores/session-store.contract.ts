import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { Permission } from '../../src/domain/permission'
import type { SessionStore, UserStore } from '../../src/stores/types'
import { uniqueEmail } from '../support/app'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const hex = (bytes: number): string => randomBytes(bytes).toString('hex')
const DAY = 24 * 3600 * 1000

/** What every SessionStore must do, and the user store's LAST_ADMIN guard. Run once per SQL dialect. */
export function sessionStoreContract (t: Test, open: () => Promise<{ sessions: SessionStore, users: UserStore }>): void {
  const at = (offsetMs = 0): string => new Date(Date.now() + offsetMs).toISOString()
  async function newSession (store: { sessions: SessionStore, users: UserStore }, userId?: number, expiresInMs = DAY) {
    const uid = userId ?? (await store.users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })).id
    const input = { id: hex(16), user_id: uid, token_hash: hex(32), now: at(), expires_at: at(expiresInMs) }
    const session = await store.sessions.create(input)
    return { ...input, session }
  }

  t.test('creates a session and answers its access by id, with the user\'s stored level', async (t) => {
    const store = await open()
    const { session, id, user_id: userId } = await newSession(store)
    t.match(session, { id, user_id: userId, created_at: ISO_UTC, last_used_at: ISO_UTC, expires_at: ISO_UTC })
    t.match(await store.sessions.access(id), { user_id: userId, permission: Permission.User, email_verified: false, ended: false, expires_at: session.expires_at })
    await store.users.setPermission(userId, Permission.Author)
    t.match(await store.sessions.access(id), { permission: Permission.Author }, 'the level as stored now')
    await store.users.markVerified(userId)
    t.match(await store.sessions.access(id), { email_verified: true }, 'verification as stored now')
    t.equal(await store.sessions.access(hex(16)), undefined)
    t.same(await store.sessions.listLive(userId, at()), [session])
  })

  t.test('rotates a refresh token once; a spent one ends the session; then every one is invalid', async (t) => {
    const store = await open()
    const { id, token_hash: first } = await newSession(store)
    const second = hex(32)
    const rotated = await store.sessions.rotate(first, second, at())
    t.match(rotated, { outcome: 'rotated', session: { id } })
    t.same(await store.sessions.rotate(first, hex(32), at()), { outcome: 'reused', sessionId: id })
    t.equal((await store.sessions.access(id))?.ended, true)
    t.same(await store.sessions.rotate(second, hex(32), at()), { outcome: 'invalid' }, 'the unspent one of an ended session')
    t.same(await store.sessions.rotate(first, hex(32), at()), { outcome: 'invalid' }, 'a replay after the end')
    t.same(await store.sessions.rotate(hex(32), hex(32), at()), { outcome: 'invalid' }, 'an unknown hash')
  })

  t.test('concurrent rotations of one hash: exactly one rotates, the other ends the session', async (t) => {
    const store = await open()
    for (let i = 0; i < 5; i++) {
      const { id, token_hash: hash } = await newSession(store)
      const results = await Promise.all(Array.from({ length: 4 }, async () => store.sessions.rotate(hash, hex(32), at())))
      const outcomes = results.map((r) => r.outcome).sort()
      t.equal(outcomes.filter((o) => o === 'rotated').length, 1, `round ${i}: one rotation (${outcomes.join(', ')})`)
      t.ok(outcomes.includes('reused'), 'a loser reports the reuse')
      t.equal((await store.sessions.access(id))?.ended, true)
    }
  })

  t.test('an expired session is neither live nor renewable', async (t) => {
    const store = await open()
    const { id, user_id: userId, token_hash: hash } = await newSession(store, undefined, -1000)
    t.same(await store.sessions.listLive(userId, at()), [])
    t.same(await store.sessions.rotate(hash, hex(32), at()), { outcome: 'invalid' })
    t.equal(await store.sessions.end(userId, id, at()), false)
  })

  t.test('ends one of a user\'s own sessions, or all, or all but one', async (t) => {
    const store = await open()
    const a = await newSession(store)
    const b = await newSession(store, a.user_id)
    const c = await newSession(store, a.user_id)
    const stranger = await newSession(store)
    t.equal(await store.sessions.end(stranger.user_id, a.id, at()), false, 'not another user\'s')
    t.equal(await store.sessions.end(a.user_id, a.id, at()), true)
    t.equal(await store.sessions.end(a.user_id, a.id, at()), false, 'not twice')
    t.same((await store.sessions.liveIds(a.user_id, at())).sort(), [b.id, c.id].sort())
    t.same(await store.sessions.endAll(a.user_id, at(), c.id), [b.id], 'all but c')
    t.same((await store.sessions.listLive(a.user_id, at())).map((s) => s.id), [c.id])
    t.same(await store.sessions.endAll(a.user_id, at()), [c.id])
    t.same(await store.sessions.listLive(a.user_id, at()), [])
    t.equal((await store.sessions.access(stranger.id))?.ended, false, 'the stranger keeps theirs')
  })

  t.test('lists live sessions newest first', async (t) => {
    const store = await open()
    const first = await newSession(store)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = await newSession(store, first.user_id)
    t.same((await store.sessions.listLive(first.user_id, at())).map((s) => s.id), [second.id, first.id])
  })

  t.test('the last Admin cannot be lowered, also by two lowerings at once', async (t) => {
    const { users } = await open()
    // This store's database may hold Admins of other tests: lower them first, as the guard allows.
    const admins = async (): Promise<number[]> => (await users.list({ offset: 0, limit: 100 })).filter((u) => u.permission === Permission.Admin).map((u) => u.id)
    const x = await users.create({ email: uniqueEmail('x'), password_hash: 'x', permission: Permission.Admin })
    const y = await users.create({ email: uniqueEmail('y'), password_hash: 'x', permission: Permission.Admin })
    for (const id of await admins()) if (id !== x.id && id !== y.id) await users.setPermission(id, Permission.User)
    const results = await Promise.allSettled([users.setPermission(x.id, Permission.User), users.setPermission(y.id, Permission.Author)])
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one lowering wins')
    const lost = results.find((r) => r.status === 'rejected')
    t.match(lost?.status === 'rejected' ? lost.reason : undefined, { code: 'LAST_ADMIN', statusCode: 409, message: 'The last Admin cannot be lowered' })
    t.equal((await admins()).length, 1, 'one Admin remains')
    const [last] = await admins()
    await t.rejects(users.setPermission(last ?? 0, Permission.None), { code: 'LAST_ADMIN' })
    t.match(await users.setPermission(last ?? 0, Permission.Admin), { permission: Permission.Admin }, 'keeping the level is fine')
    t.equal(await users.setPermission(2147483000, Permission.User), undefined, 'an unknown user is undefined, not LAST_ADMIN')
  })

  t.test('users list by id, q a plain substring of the email', async (t) => {
    const { users } = await open()
    const tag = hex(6)
    const made = [await users.create({ email: `${tag}-a@example.com`, password_hash: 'x', permission: Permission.User }),
      await users.create({ email: `b-${tag}@example.com`, password_hash: 'x', permission: Permission.User })]
    t.same(await users.list({ offset: 0, limit: 10, q: tag.toUpperCase() }), made)
    t.same(await users.list({ offset: 1, limit: 10, q: tag }), [made[1]])
    t.same(await users.list({ offset: 0, limit: 10, q: `${tag}_` }), [], 'an underscore is no wildcard')
  })
}
