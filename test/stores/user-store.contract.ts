import type { Test } from 'tap'
import { Permission } from '../../src/domain/permission'
import type { UserStore } from '../../src/stores/types'
import { uniqueEmail } from '../support/app'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** What every UserStore must do. Run once per backend; data is random so databases can be shared. */
export function userStoreContract (t: Test, open: () => Promise<UserStore>): void {
  t.test('creates a user and finds it by email and id', async (t) => {
    const users = await open()
    const email = uniqueEmail()
    const created = await users.create({ email, password_hash: '$argon2id$hash', permission: Permission.User })
    t.ok(Number.isInteger(created.id) && created.id > 0, 'numeric id')
    t.match(created, { email, permission: Permission.User, created_at: ISO_UTC })
    t.same(await users.get(created.id), created)
    t.same(await users.findByEmail(email), { ...created, password_hash: '$argon2id$hash' })
    t.equal(await users.findByEmail(uniqueEmail()), undefined)
    t.equal(await users.get(2147483000), undefined)
  })

  t.test('refuses a second account with the same email through the unique index', async (t) => {
    const users = await open()
    const email = uniqueEmail()
    await users.create({ email, password_hash: 'x', permission: Permission.User })
    await t.rejects(users.create({ email, password_hash: 'y', permission: Permission.User }), { code: 'EMAIL_TAKEN', statusCode: 409 })
  })

  t.test('concurrent creates with one email: exactly one wins', async (t) => {
    const users = await open()
    const email = uniqueEmail()
    const results = await Promise.allSettled(Array.from({ length: 10 }, () =>
      users.create({ email, password_hash: 'x', permission: Permission.User })))
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    for (const r of results) if (r.status === 'rejected') t.match(r.reason, { code: 'EMAIL_TAKEN' })
  })

  t.test('changes permission and password hash', async (t) => {
    const users = await open()
    const created = await users.create({ email: uniqueEmail(), password_hash: 'old', permission: Permission.User })
    t.same(await users.setPermission(created.id, Permission.Author), { ...created, permission: Permission.Author })
    await users.setPasswordHash(created.id, 'new')
    t.equal((await users.findByEmail(created.email))?.password_hash, 'new')
    t.equal(await users.setPermission(2147483000, Permission.Admin), undefined)
  })

  t.test('deletes a user: gone by id and email, the address free again; an unknown id is false', async (t) => {
    const users = await open()
    const email = uniqueEmail()
    const user = await users.create({ email, password_hash: '$argon2id$hash', permission: Permission.User })
    const author = await users.create({ email: uniqueEmail(), password_hash: '$argon2id$hash', permission: Permission.Author })
    t.equal(await users.delete(user.id), true)
    t.equal(await users.get(user.id), undefined)
    t.equal(await users.findByEmail(email), undefined)
    t.equal(await users.delete(user.id), false, 'deleting again changes nothing')
    t.equal(await users.delete(2147483000), false)
    const again = await users.create({ email, password_hash: '$argon2id$other', permission: Permission.User })
    t.not(again.id, user.id, 'a new account, not the old one back')
    t.same(await users.get(author.id), author, 'nobody else goes')
    t.equal(await users.delete(author.id), true)
    t.equal(await users.delete(again.id), true)
  })

  t.test('an Admin may be deleted while another Admin remains', async (t) => {
    const users = await open()
    const a = await users.create({ email: uniqueEmail(), password_hash: '$argon2id$hash', permission: Permission.Admin })
    const b = await users.create({ email: uniqueEmail(), password_hash: '$argon2id$hash', permission: Permission.Admin })
    t.equal(await users.delete(a.id), true)
    t.equal(await users.get(a.id), undefined)
    t.same(await users.get(b.id), b, 'the guard locked every Admin row, and b reads as it was')
    // b may be the last Admin of this database now (or not, when it is shared): either answer is the guard's.
    await users.delete(b.id).then((done) => t.equal(done, true), (err: { code?: string }) => t.equal(err.code, 'LAST_ADMIN'))
  })

  t.test('a new account is unverified unless created verified; markVerified and setVerifiedEmail prove an address', async (t) => {
    const users = await open()
    const created = await users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })
    t.equal(created.email_verified, false)
    t.equal((await users.get(created.id))?.email_verified, false)
    const admin = await users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.Admin, email_verified: true })
    t.equal((await users.findByEmail(admin.email))?.email_verified, true)

    await users.markVerified(created.id)
    t.same(await users.get(created.id), { ...created, email_verified: true })
    t.same(await users.lock(created.id), { ...created, email_verified: true }, 'lock reads the row')
    t.equal(await users.lock(2147483000), undefined)

    const moved = uniqueEmail('moved')
    const other = await users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })
    await users.setVerifiedEmail(other.id, moved)
    t.same(await users.get(other.id), { ...other, email: moved, email_verified: true })
    t.equal(await users.findByEmail(other.email), undefined, 'the old address is free')
    await t.rejects(users.setVerifiedEmail(created.id, moved), { code: 'EMAIL_TAKEN', statusCode: 409 })
    t.equal((await users.get(created.id))?.email, created.email)
  })
}
