import type { Test } from 'tap'
import { Permission } from '../../src/domain/permission'
import type { PasskeyStore, UserStore } from '../../src/stores/types'
import { uniqueEmail } from '../support/app'

const MINUTE = 60_000

/**
 * What every PasskeyStore must do: CRUD by owner, a counter that only moves forward, and
 * challenges spent once by one conditional UPDATE, also from a second connection (`rival`,
 * another instance). Run once per SQL backend (test/stores/passkeys.test.ts).
 */
export function passkeyStoreContract (t: Test, open: () => Promise<{ passkeys: PasskeyStore, rival: PasskeyStore, users: UserStore }>): void {
  const base = Date.now()
  const at = (offsetMs = 0): string => new Date(base + offsetMs).toISOString()
  let n = 0
  const unique = (tag: string): string => `${tag}-${base}-${++n}`

  t.test('create, list oldest first, find by credential id, a credential id only once', async (t) => {
    const { passkeys, users } = await open()
    const user = await users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })
    const key = new Uint8Array([1, 2, 3, 250])
    const first = await passkeys.create({ id: unique('a'), user_id: user.id, credential_id: unique('cred'), public_key: key, counter: 0, transports: ['internal'], name: 'One', now: at() })
    const second = await passkeys.create({ id: unique('b'), user_id: user.id, credential_id: unique('cred'), public_key: key, counter: 3, transports: [], name: 'Two', now: at(1000) })
    t.ok(first !== undefined && second !== undefined)
    t.same(await passkeys.list(user.id), [first, second])
    t.same(await passkeys.findByCredentialId(first?.credential_id ?? ''), { ...first, public_key: key })
    t.equal(await passkeys.findByCredentialId('unknown'), undefined)
    const again = await passkeys.create({ id: unique('c'), user_id: user.id, credential_id: first?.credential_id ?? '', public_key: key, counter: 0, transports: [], name: 'Dup', now: at() })
    t.equal(again, undefined, 'a registered credential id is refused')
  })

  t.test('remove only by its owner', async (t) => {
    const { passkeys, users } = await open()
    const owner = await users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })
    const other = await users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })
    const p = await passkeys.create({ id: unique('r'), user_id: owner.id, credential_id: unique('cred'), public_key: new Uint8Array([9]), counter: 0, transports: [], name: 'R', now: at() })
    t.equal(await passkeys.remove(other.id, p?.id ?? ''), false)
    t.equal(await passkeys.remove(owner.id, p?.id ?? ''), true)
    t.equal(await passkeys.remove(owner.id, p?.id ?? ''), false)
  })

  t.test('the counter only moves forward (0 stays allowed for authenticators without one)', async (t) => {
    const { passkeys, rival, users } = await open()
    const user = await users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })
    const zero = await passkeys.create({ id: unique('z'), user_id: user.id, credential_id: unique('cred'), public_key: new Uint8Array([1]), counter: 0, transports: [], name: 'Z', now: at() })
    t.equal(await passkeys.recordUse(zero?.id ?? '', 0, at(1)), true, '0 after 0')
    t.equal(await passkeys.recordUse(zero?.id ?? '', 5, at(2)), true, 'forward')
    t.equal(await rival.recordUse(zero?.id ?? '', 5, at(3)), false, 'the same counter again, from another instance')
    t.equal(await passkeys.recordUse(zero?.id ?? '', 4, at(4)), false, 'backwards')
    t.equal(await passkeys.recordUse(zero?.id ?? '', 0, at(5)), false, '0 after a counter')
    const found = await passkeys.findByCredentialId(zero?.credential_id ?? '')
    t.equal(found?.counter, 5)
    t.equal(found?.last_used_at, at(2))
  })

  t.test('a challenge is spent once, across connections; by purpose and user; not after expiry; swept', async (t) => {
    const { passkeys, rival, users } = await open()
    const user = await users.create({ email: uniqueEmail(), password_hash: 'x', permission: Permission.User })
    const signIn = unique('h').padEnd(64, '0').slice(0, 64)
    await passkeys.saveChallenge({ challenge_hash: signIn, user_id: null, purpose: 'sign_in', expires_at: at(5 * MINUTE) })
    t.equal(await passkeys.spendChallenge(signIn, 'register', null, at()), false, 'another purpose')
    const spent = await Promise.all([passkeys.spendChallenge(signIn, 'sign_in', null, at()), rival.spendChallenge(signIn, 'sign_in', null, at())])
    t.same(spent.filter(Boolean).length, 1, 'of two racing uses one wins')

    const reg = unique('g').padEnd(64, '0').slice(0, 64)
    await passkeys.saveChallenge({ challenge_hash: reg, user_id: user.id, purpose: 'register', expires_at: at(5 * MINUTE) })
    t.equal(await passkeys.spendChallenge(reg, 'register', null, at()), false, 'not without its user')
    t.equal(await passkeys.spendChallenge(reg, 'register', user.id + 1, at()), false, "not another user's")
    t.equal(await passkeys.spendChallenge(reg, 'register', user.id, at(5 * MINUTE)), false, 'not once expired')

    t.ok(await passkeys.sweepChallenges(at(6 * MINUTE)) >= 2, 'expired challenges are deleted')
    t.equal(await passkeys.spendChallenge(reg, 'register', user.id, at()), false, 'gone')
  })
}
