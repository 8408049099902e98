import pino from 'pino'
import t, { type Test } from 'tap'
import { AppError, wrongCurrentPassword } from '../../src/domain/errors'
import type { RequestContext } from '../../src/domain/context'
import { Permission } from '../../src/domain/permission'
import { createLeavingService } from '../../src/services/leaving'
import { createSqlStores, type SqlStores } from '../../src/stores/sql'
import { migrate } from '../../src/stores/sql/migrate'
import { sqliteDialect } from '../../src/stores/sqlite/dialect'
import type { ReviewStore } from '../../src/stores/types'
import { uniqueEmail } from '../support/app'

const ctx: RequestContext = { ip: '127.0.0.1', requestId: 'req-1', actorId: 1 }

/** The service over real SQLite stores; what lives elsewhere (MongoDB reviews, idempotency records) as recording fakes. */
async function setUp (t: Test, { apartFails = false, recordsFail = false } = {}) {
  const db = sqliteDialect(':memory:')
  t.teardown(() => db.close())
  await migrate(db)
  const stores: SqlStores = createSqlStores(db)
  const asked: string[] = []
  const apart: ReviewStore = {
    ...stores.reviews,
    deleteByUser: async (userId) => {
      asked.push(`mongodb reviews of ${userId}`)
      if (apartFails) throw new Error('mongodb is down')
      return 0
    }
  }
  const leaving = createLeavingService({
    passkeys: { list: async () => [] },
    users: {
      get: async (id) => {
        const user = await stores.users.get(id)
        if (user === undefined) throw new Error('no user')
        return user
      }
    },
    checkPassword: async (id, password) => {
      asked.push(`password of ${id}`)
      if (password !== 'right') throw wrongCurrentPassword()
      const user = await stores.users.get(id)
      if (user === undefined) throw new Error('no user')
      return user
    },
    sessions: {
      list: async () => [],
      forgetSessions: async (ids) => { asked.push(`forget ${ids.length} sessions`) }
    },
    apiKeys: { exportOf: async () => [] },
    reviews: apart,
    reviewsApart: apart,
    atomic: stores.atomic,
    idempotency: {
      forgetUser: async (userId) => {
        asked.push(`records of ${userId}`)
        if (recordsFail) throw new Error('redis is down')
        return 0
      }
    },
    log: pino({ level: 'silent' })
  })
  const account = async (permission: Permission = Permission.User) => {
    const user = await stores.users.create({ email: uniqueEmail(), password_hash: 'h', permission })
    const now = new Date().toISOString()
    await stores.sessions.create({ id: `s-${user.id}`, user_id: user.id, token_hash: `t-${user.id}`, now, expires_at: new Date(Date.now() + 3600_000).toISOString() })
    await stores.outbox.enqueue({ user_id: user.id, to: user.email, subject: 'Verify', text: 't', html: 'h' }, now)
    return user
  }
  const deletedEvents = async (userId: number) => (await stores.audit.list({ user_id: userId, type: 'user.deleted', limit: 10 })).length
  return { stores, leaving, asked, account, deletedEvents }
}

const codeOf = (err: unknown): string | undefined => err instanceof AppError ? err.code : undefined

t.test('a deletion: the guard first, then what lives elsewhere inside the transaction, then the cached checks, then a sweep', async (t) => {
  const { stores, leaving, asked, account, deletedEvents } = await setUp(t)
  const user = await account()
  await leaving.deleteOwn(user.id, 'right', ctx)
  t.same(asked, [`password of ${user.id}`, `mongodb reviews of ${user.id}`, `records of ${user.id}`, 'forget 1 sessions',
    `mongodb reviews of ${user.id}`, `records of ${user.id}`])
  t.equal(await stores.users.get(user.id), undefined)
  t.same(await stores.sessions.listLive(user.id, new Date().toISOString()), [])
  t.same(await stores.outbox.claim(new Date(Date.now() + 1000).toISOString(), new Date(Date.now() + 60_000).toISOString(), 100), [], 'its mail is dropped')
  t.equal(await deletedEvents(user.id), 1)
})

t.test('a wrong password deletes nothing and touches nothing else', async (t) => {
  const { stores, leaving, asked, account, deletedEvents } = await setUp(t)
  const user = await account()
  t.equal(codeOf(await leaving.deleteOwn(user.id, 'wrong', ctx).catch((err: unknown) => err)), 'INVALID_CREDENTIALS')
  t.same(asked, [`password of ${user.id}`])
  t.ok(await stores.users.get(user.id))
  t.equal(await deletedEvents(user.id), 0)
})

t.test('the last Admin and an unknown id are refused before anything outside SQL is touched', async (t) => {
  const { stores, leaving, asked, account, deletedEvents } = await setUp(t)
  const admin = await account(Permission.Admin)
  t.equal(codeOf(await leaving.deleteUser(admin.id, ctx).catch((err: unknown) => err)), 'LAST_ADMIN')
  t.equal(codeOf(await leaving.deleteUser(2147483000, ctx).catch((err: unknown) => err)), 'USER_NOT_FOUND')
  t.same(asked, [], 'neither MongoDB nor the records were asked')
  t.ok(await stores.users.get(admin.id))
  t.equal(await deletedEvents(admin.id), 0)
})

for (const [what, options] of [['MongoDB', { apartFails: true }], ['the idempotency records', { recordsFail: true }]] as const) {
  t.test(`${what} failing inside the transaction rolls the SQL back: the account, its sessions and mail stay, no event`, async (t) => {
    const { stores, leaving, account, deletedEvents } = await setUp(t, options)
    const user = await account()
    await t.rejects(leaving.deleteUser(user.id, ctx))
    t.ok(await stores.users.get(user.id))
    t.equal((await stores.sessions.listLive(user.id, new Date().toISOString())).length, 1)
    t.equal(await deletedEvents(user.id), 0)
  })
}
