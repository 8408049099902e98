import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import { Permission } from '../../src/domain/permission'
import type { SqlStores } from '../../src/stores/sql'
import { uniqueEmail } from '../support/app'

const hex = (bytes: number): string => randomBytes(bytes).toString('hex')
const DAY = 24 * 3600 * 1000
const MINUTE = 60_000

/** What every ApiKeyStore must do. Run once per SQL dialect. */
export function apiKeyStoreContract (t: Test, open: () => Promise<Pick<SqlStores, 'apiKeys' | 'users' | 'atomic'>>): void {
  const at = (offsetMs = 0): string => new Date(Date.now() + offsetMs).toISOString()
  async function newKey (store: Pick<SqlStores, 'apiKeys' | 'users'>, userId?: number, expiresInMs = DAY) {
    const uid = userId ?? (await store.users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.Author })).id
    const input = { id: hex(16), user_id: uid, key_hash: hex(32), name: 'script', permission: Permission.User, now: at(), expires_at: at(expiresInMs) }
    const key = await store.apiKeys.create(input)
    return { ...input, key }
  }

  t.test('creates a key and looks it up by digest with its user as stored now', async (t) => {
    const store = await open()
    const { key, id, user_id: userId, key_hash: hash, now, expires_at: expiresAt } = await newKey(store)
    t.same(key, { id, name: 'script', permission: Permission.User, created_at: now, expires_at: expiresAt, last_used_at: null })
    const user = await store.users.get(userId)
    t.same(await store.apiKeys.lookup(hash), {
      id, user_id: userId, permission: Permission.User, user_permission: Permission.Author, email: user?.email, email_verified: false, revoked: false, expires_at: expiresAt, last_used_at: null
    })
    await store.users.setPermission(userId, Permission.User)
    await store.users.markVerified(userId)
    t.match(await store.apiKeys.lookup(hash), { user_permission: Permission.User, email_verified: true }, 'the level and flag as stored now')
    t.equal(await store.apiKeys.lookup(hex(32)), undefined)
  })

  t.test('lists and counts live keys only, newest first; revokes only the owner\'s', async (t) => {
    const store = await open()
    const first = await newKey(store)
    const second = await newKey(store, first.user_id)
    await newKey(store, first.user_id, -1000)
    const other = await newKey(store)
    t.same((await store.apiKeys.listLive(first.user_id, at())).map((k) => k.id).sort(), [first.id, second.id].sort())
    t.equal(await store.apiKeys.countLive(first.user_id, at()), 2, 'an expired key is not live')
    t.equal(await store.apiKeys.revoke(other.user_id, first.id, at()), false, 'another user\'s key')
    t.equal(await store.apiKeys.revoke(first.user_id, hex(16), at()), false, 'an unknown id')
    t.equal(await store.apiKeys.revoke(first.user_id, first.id, at()), true)
    t.equal(await store.apiKeys.revoke(first.user_id, first.id, at()), false, 'revoked already')
    t.match(await store.apiKeys.lookup(first.key_hash), { revoked: true })
    t.same((await store.apiKeys.listLive(first.user_id, at())).map((k) => k.id), [second.id])
    t.equal(await store.apiKeys.countLive(first.user_id, at()), 1)
  })

  t.test('touch writes last_used_at only when it is older than `since`', async (t) => {
    const store = await open()
    const { id, key_hash: hash } = await newKey(store)
    const now = at()
    t.equal(await store.apiKeys.touch(id, now, at(-MINUTE)), true, 'never used')
    t.equal(await store.apiKeys.touch(id, at(1000), at(1000 - MINUTE)), false, 'within the minute: no change')
    t.match(await store.apiKeys.lookup(hash), { last_used_at: now })
    const later = at(MINUTE + 1000)
    t.equal(await store.apiKeys.touch(id, later, at(1000)), true, 'a minute on')
    t.match(await store.apiKeys.lookup(hash), { last_used_at: later })
  })

  t.test('keys go with their user', async (t) => {
    const store = await open()
    const { user_id: userId, key_hash: hash } = await newKey(store)
    await store.users.delete(userId)
    t.equal(await store.apiKeys.lookup(hash), undefined)
    t.same(await store.apiKeys.listLive(userId, at()), [])
  })

  t.test('the user\'s lock serializes count-then-create: two racing creations see each other', async (t) => {
    const store = await open()
    const user = await store.users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })
    const cap = 1
    const attempt = () => store.atomic(async (s) => {
      await s.users.lock(user.id)
      if (await s.apiKeys.countLive(user.id, at()) >= cap) return false
      await s.apiKeys.create({ id: hex(16), user_id: user.id, key_hash: hex(32), name: 'race', permission: Permission.User, now: at(), expires_at: at(DAY) })
      return true
    })
    const results = await Promise.allSettled([attempt(), attempt(), attempt()])
    const made = results.filter((r) => r.status === 'fulfilled' && r.value).length
    t.equal(made, 1, 'exactly one creation passed the cap')
    t.equal(await store.apiKeys.countLive(user.id, at()), 1)
  })
}
