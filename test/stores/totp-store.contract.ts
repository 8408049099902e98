import type { Test } from 'tap'
import { Permission } from '../../src/domain/permission'
import type { SqlStoreSet } from '../../src/stores/sql'

const NOW = '2026-03-01T12:00:00.000Z'
const hashOf = (n: number): string => n.toString(16).padStart(64, '0')

/**
 * What every TotpStore must do: a pending secret is replaced but an enabled one is not;
 * enabling needs the pending secret and a fresh step; a step and a recovery code are each
 * accepted once, also when two connections (two instances) race for them; the user's
 * deletion takes everything. Run once per SQL backend (test/stores/totp.test.ts).
 */
export function totpStoreContract (t: Test, open: () => Promise<{ stores: SqlStoreSet, rival: SqlStoreSet }>): void {
  let n = 0
  const newUser = async (stores: SqlStoreSet): Promise<number> =>
    (await stores.users.create({ email: `totp-${Date.now()}-${n++}@example.com`, password_hash: 'x', permission: Permission.User })).id

  t.test('pending: replaced by a second call; not the user\'s totp_enabled', async (t) => {
    const { stores } = await open()
    const id = await newUser(stores)
    t.equal(await stores.totp.get(id), undefined)
    t.equal(await stores.totp.setPending(id, 'AAAA', NOW), true)
    t.equal(await stores.totp.setPending(id, 'BBBB', NOW), true)
    t.same(await stores.totp.get(id), { user_id: id, secret: 'BBBB', enabled: false, last_step: 0 })
    t.equal((await stores.users.get(id))?.totp_enabled, false)
    t.equal(await stores.totp.acceptStep(id, 5), false, 'no step is accepted while pending')
  })

  t.test('enable: only the pending secret, with its recovery codes; then nothing replaces it', async (t) => {
    const { stores } = await open()
    const id = await newUser(stores)
    await stores.totp.setPending(id, 'AAAA', NOW)
    const codes = [1, 2, 3].map((i) => hashOf(id * 100 + i))
    t.equal(await stores.totp.enable(id, 'OTHER', 10, codes, NOW), false, 'a replaced secret is not enabled')
    t.equal(await stores.totp.enable(id, 'AAAA', 10, codes, NOW), true)
    t.equal(await stores.totp.enable(id, 'AAAA', 11, codes, NOW), false, 'once')
    t.same(await stores.totp.get(id), { user_id: id, secret: 'AAAA', enabled: true, last_step: 10 })
    t.equal((await stores.users.get(id))?.totp_enabled, true, 'the user reads it in the same look-up')
    t.equal((await stores.users.findByEmail((await stores.users.get(id))?.email ?? ''))?.totp_enabled, true)
    t.equal(await stores.totp.recoveryCodesLeft(id), 3)
    t.equal(await stores.totp.setPending(id, 'BBBB', NOW), false, 'an enabled secret stays')
    t.equal((await stores.totp.get(id))?.secret, 'AAAA')
  })

  t.test('steps: only after the last one accepted, once', async (t) => {
    const { stores } = await open()
    const id = await newUser(stores)
    await stores.totp.setPending(id, 'AAAA', NOW)
    await stores.totp.enable(id, 'AAAA', 10, [], NOW)
    t.equal(await stores.totp.acceptStep(id, 10), false, 'the confirming step is spent')
    t.equal(await stores.totp.acceptStep(id, 9), false, 'an earlier one too')
    t.equal(await stores.totp.acceptStep(id, 11), true)
    t.equal(await stores.totp.acceptStep(id, 11), false, 'a replay')
    t.equal(await stores.totp.acceptStep(id, 13), true)
    t.equal(await stores.totp.acceptStep(id, 12), false, 'a step before the last accepted')
  })

  t.test('two connections racing for one step or one recovery code: one wins', async (t) => {
    const { stores, rival } = await open()
    const id = await newUser(stores)
    await stores.totp.setPending(id, 'AAAA', NOW)
    await stores.totp.enable(id, 'AAAA', 10, [hashOf(id * 100 + 7)], NOW)
    const steps = await Promise.all([stores.totp.acceptStep(id, 20), rival.totp.acceptStep(id, 20)])
    t.same(steps.filter(Boolean).length, 1, 'one step accepted')
    const spent = await Promise.all([stores.totp.spendRecoveryCode(id, hashOf(id * 100 + 7), NOW), rival.totp.spendRecoveryCode(id, hashOf(id * 100 + 7), NOW)])
    t.same(spent.filter(Boolean).length, 1, 'one recovery code spent')
  })

  t.test('recovery codes: once each, only the user\'s own, only while TOTP is on', async (t) => {
    const { stores } = await open()
    const id = await newUser(stores)
    const other = await newUser(stores)
    const code = hashOf(id * 100 + 1)
    await stores.totp.setPending(id, 'AAAA', NOW)
    await stores.totp.enable(id, 'AAAA', 10, [code, hashOf(id * 100 + 2)], NOW)
    t.equal(await stores.totp.spendRecoveryCode(other, code, NOW), false, 'another user\'s')
    t.equal(await stores.totp.spendRecoveryCode(id, hashOf(999_999_999), NOW), false, 'unknown')
    t.equal(await stores.totp.spendRecoveryCode(id, code, NOW), true)
    t.equal(await stores.totp.spendRecoveryCode(id, code, NOW), false, 'used')
    t.equal(await stores.totp.recoveryCodesLeft(id), 1)
    t.equal(await stores.totp.disable(id), true)
    t.equal(await stores.totp.disable(id), false, 'nothing left to disable')
    t.equal(await stores.totp.get(id), undefined)
    t.equal(await stores.totp.recoveryCodesLeft(id), 0, 'the codes went with it')
    t.equal((await stores.users.get(id))?.totp_enabled, false)
  })

  t.test('re-enabling replaces the recovery codes', async (t) => {
    const { stores } = await open()
    const id = await newUser(stores)
    await stores.totp.setPending(id, 'AAAA', NOW)
    await stores.totp.enable(id, 'AAAA', 10, [hashOf(id * 100 + 1)], NOW)
    await stores.totp.disable(id)
    await stores.totp.setPending(id, 'BBBB', NOW)
    t.same(await stores.totp.get(id), { user_id: id, secret: 'BBBB', enabled: false, last_step: 0 }, 'a new secret starts afresh')
    await stores.totp.enable(id, 'BBBB', 3, [hashOf(id * 100 + 2), hashOf(id * 100 + 3)], NOW)
    t.equal(await stores.totp.spendRecoveryCode(id, hashOf(id * 100 + 1), NOW), false, 'the old code is gone')
    t.equal(await stores.totp.recoveryCodesLeft(id), 2)
  })

  t.test('deleting the user takes the secret and the codes', async (t) => {
    const { stores } = await open()
    const id = await newUser(stores)
    await stores.totp.setPending(id, 'AAAA', NOW)
    await stores.totp.enable(id, 'AAAA', 10, [hashOf(id * 100 + 5)], NOW)
    t.equal(await stores.users.delete(id), true)
    t.equal(await stores.totp.get(id), undefined)
    t.equal(await stores.totp.recoveryCodesLeft(id), 0)
  })
}
