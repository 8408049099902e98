import type { FastifyInstance } from 'fastify'
import { generate } from 'otplib'
import t from 'tap'
import { stepOfCode } from '../../src/services/totp'
import { bearer, build, errorBody, signIn, signUp, uniqueEmail } from '../support/app'
import { waitForMail } from '../support/mail'

const PASSWORD = 'a fine long passphrase'
const STEP = 30
const REQUIRED = errorBody(401, 'MFA_REQUIRED', 'Unauthorized', 'a second factor is required')
const INVALID = errorBody(401, 'MFA_CODE_INVALID', 'Unauthorized', 'The code is not valid')
const INVALID_AT_CONFIRM = errorBody(400, 'MFA_CODE_INVALID', 'Bad Request', 'The code is not valid')
const NOT_PENDING = errorBody(409, 'TOTP_NOT_PENDING', 'Conflict', 'No TOTP secret is waiting for confirmation; POST /users/me/totp first')
const ALREADY = errorBody(409, 'TOTP_ALREADY_ENABLED', 'Conflict', 'TOTP is enabled already; disable it first')
const WRONG_PASSWORD = errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'The current password is not correct')
const BAD_SIGN_IN = errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'Invalid email or password')
const THROTTLED = errorBody(429, 'TOO_MANY_SIGN_IN_FAILURES', 'Too Many Requests', 'Too many failed sign-ins for this email; try again later')

/** The code of the step `steps` away from now, as an authenticator app with that clock shows it. */
const codeAt = (secret: string, steps = 0): Promise<string> => generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * STEP })

/**
 * Tests that use a neighbouring step start well inside a step, so the step does not change
 * between making a code and the server checking it.
 */
async function awayFromStepEdge (): Promise<void> {
  const into = (Date.now() / 1000) % STEP
  if (into > STEP - 4) await new Promise((resolve) => setTimeout(resolve, (STEP - into + 0.5) * 1000))
}

const setUp = (app: FastifyInstance, token: string) => app.inject({ method: 'POST', url: '/users/me/totp', headers: bearer(token) })
const confirm = (app: FastifyInstance, token: string, code: unknown) =>
  app.inject({ method: 'POST', url: '/users/me/totp/confirm', headers: bearer(token), payload: { code } as object })
const disable = (app: FastifyInstance, token: string, payload: unknown) =>
  app.inject({ method: 'DELETE', url: '/users/me/totp', headers: bearer(token), payload: payload as object })
const signInWith = (app: FastifyInstance, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/users/sign-in', payload })
const me = async (app: FastifyInstance, token: string) => (await app.inject({ url: '/users/me', headers: bearer(token) })).json<Record<string, unknown>>()

/** A signed-up, signed-in user with TOTP on: its secret, recovery codes and token. */
async function withTotp (app: FastifyInstance, confirmSteps = 0) {
  const user = await signUp(app)
  const token = await signIn(app, user.email, PASSWORD)
  const { secret } = (await setUp(app, token)).json<{ secret: string }>()
  const res = await confirm(app, token, await codeAt(secret, confirmSteps))
  if (res.statusCode !== 200) throw new Error(`confirm: ${res.statusCode} ${res.body}`)
  return { ...user, token, secret, recovery: res.json<{ recovery_codes: string[] }>().recovery_codes }
}

t.test('codes: the step of now and the one before and after, no other', async (t) => {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'
  const at = 1_700_000_010 // 10 seconds into step 56666667
  const step = Math.floor(at / STEP)
  for (const [offset, expected] of [[-2, undefined], [-1, step - 1], [0, step], [1, step + 1], [2, undefined]] as const) {
    const code = await generate({ secret, epoch: at + offset * STEP })
    t.equal(await stepOfCode(secret, code, at * 1000), expected, `step ${offset}`)
  }
  // At the very first and last second of a step, the neighbours on both sides still count.
  const start = step * STEP
  t.equal(await stepOfCode(secret, await generate({ secret, epoch: start - 1 }), start * 1000), step - 1, 'at a step\'s start: the one before')
  t.equal(await stepOfCode(secret, await generate({ secret, epoch: start - STEP - 1 }), start * 1000), undefined, 'two before')
  t.equal(await stepOfCode(secret, await generate({ secret, epoch: start + STEP }), (start + STEP - 1) * 1000), step + 1, 'at its end: the one after')
  t.equal(await stepOfCode(secret, 'abcdef', at * 1000), undefined, 'not digits')
  t.equal(await stepOfCode(secret, '12345', at * 1000), undefined, 'not six')
})

t.test('TOTP routes', async (t) => {
  const app = await build(t, { signinMaxFailures: 4 })

  t.test('set-up: a 160-bit base32 secret and its otpauth URL; a second call replaces a pending secret', async (t) => {
    const user = await signUp(app)
    const token = await signIn(app, user.email, PASSWORD)
    const first = await setUp(app, token)
    t.equal(first.statusCode, 200)
    const { secret } = first.json<{ secret: string }>()
    t.match(secret, /^[A-Z2-7]{32}$/, '32 base32 digits: 160 bits')
    t.same(first.json(), { secret, otpauth_url: `otpauth://totp/Bookstore:${user.email}?secret=${secret}&issuer=Bookstore` })
    t.equal((await me(app, token)).totp_enabled, false, 'pending is not on')
    t.same((await signInWith(app, { email: user.email, password: PASSWORD, code: '000000' })).statusCode, 200, 'pending: a code is ignored')
    const second = (await setUp(app, token)).json<{ secret: string }>()
    t.not(second.secret, secret, 'a new secret')
    await awayFromStepEdge()
    t.same((await confirm(app, token, await codeAt(secret))).json(), INVALID_AT_CONFIRM, 'the replaced secret\'s code is no good')
    t.equal((await confirm(app, token, await codeAt(second.secret))).statusCode, 200, 'the new one\'s is')
  })

  t.test('confirm: TOTP on, ten recovery codes once; errors', async (t) => {
    const user = await signUp(app)
    const token = await signIn(app, user.email, PASSWORD)
    t.same((await confirm(app, token, '123456')).json(), NOT_PENDING, 'nothing pending')
    const { secret } = (await setUp(app, token)).json<{ secret: string }>()
    await awayFromStepEdge()
    const right = await codeAt(secret)
    const wrong = right === '000000' ? '000001' : '000000'
    t.same((await confirm(app, token, wrong)).json(), INVALID_AT_CONFIRM)
    t.same((await confirm(app, token, 'abcd-efgh-jkmn-pqrs')).json(), INVALID_AT_CONFIRM, 'no recovery code here')
    t.same((await confirm(app, token, 123456)).json<{ code: string }>().code, 'VALIDATION_ERROR', 'a number is no code')
    t.equal((await app.inject({ method: 'POST', url: '/users/me/totp/confirm', headers: bearer(token), payload: { code: right, extra: 1 } })).statusCode, 400, 'unknown fields')
    const res = await confirm(app, token, right)
    t.equal(res.statusCode, 200)
    const codes = res.json<{ recovery_codes: string[] }>().recovery_codes
    t.same(Object.keys(res.json()), ['recovery_codes'])
    t.equal(codes.length, 10)
    t.equal(new Set(codes).size, 10, 'all different')
    for (const code of codes) t.match(code, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/)
    t.equal((await me(app, token)).totp_enabled, true)
    t.same((await confirm(app, token, right)).json(), NOT_PENDING, 'once on, nothing is pending')
    t.same((await setUp(app, token)).json(), ALREADY)
    const events = await app.stores.audit.list({ user_id: user.id, type: 'totp.enabled', limit: 10 })
    t.same(events.map((e) => [e.type, e.user_id, e.actor_id, e.details]), [['totp.enabled', user.id, user.id, {}]])
  })

  t.test('sign-in with TOTP on: MFA_REQUIRED, a code once, recovery codes once, replays refused', async (t) => {
    await awayFromStepEdge()
    const user = await withTotp(app)
    const { email } = user
    t.same((await signInWith(app, { email, password: PASSWORD })).json(), REQUIRED, 'no code')
    t.same((await signInWith(app, { email, password: 'wrong password', code: await codeAt(user.secret, 1) })).json(), BAD_SIGN_IN, 'the password first')
    t.same((await signInWith(app, { email, password: PASSWORD, code: await codeAt(user.secret) })).json(), INVALID, 'the confirming code is spent')
    const next = await codeAt(user.secret, 1)
    const ok = await signInWith(app, { email, password: PASSWORD, code: next })
    t.equal(ok.statusCode, 200, 'the next step\'s code')
    t.same(ok.json<{ user: unknown }>().user, { id: user.id, email })
    t.same((await signInWith(app, { email, password: PASSWORD, code: next })).json(), INVALID, 'a replay')
    const [first = '', second = ''] = user.recovery
    t.equal((await signInWith(app, { email, password: PASSWORD, code: first })).statusCode, 200, 'a recovery code')
    t.same((await signInWith(app, { email, password: PASSWORD, code: first })).json(), INVALID, 'used up')
    t.equal((await signInWith(app, { email, password: PASSWORD, code: ` ${second.toUpperCase().replaceAll('-', '')} ` })).statusCode, 200,
      'typed in capitals, without hyphens')
    const events = await app.stores.audit.list({ user_id: user.id, type: 'user.sign_in_failed', limit: 10 })
    t.ok(events.every((e) => !JSON.stringify(e.details).includes(next) && !JSON.stringify(e.details).includes(first)), 'no code in the log')
  })

  t.test('one code sent twice at once: one sign-in, one MFA_CODE_INVALID', async (t) => {
    await awayFromStepEdge()
    const user = await withTotp(app)
    for (const code of [await codeAt(user.secret, 1), user.recovery[0] ?? '']) {
      const answers = await Promise.all([0, 1].map(async () => signInWith(app, { email: user.email, password: PASSWORD, code })))
      t.same(answers.map((r) => r.statusCode).sort(), [200, 401], code.includes('-') ? 'a recovery code' : 'a TOTP code')
      t.same(answers.find((r) => r.statusCode === 401)?.json(), INVALID)
    }
  })

  t.test('the window: a step two away is refused; after the last accepted step only', async (t) => {
    await awayFromStepEdge()
    const user = await withTotp(app, -1)
    const { email } = user
    t.same((await signInWith(app, { email, password: PASSWORD, code: await codeAt(user.secret, 2) })).json(), INVALID, 'two steps ahead')
    t.same((await signInWith(app, { email, password: PASSWORD, code: await codeAt(user.secret, -2) })).json(), INVALID, 'two steps behind')
    t.equal((await signInWith(app, { email, password: PASSWORD, code: await codeAt(user.secret, 1) })).statusCode, 200, 'one ahead')
    t.same((await signInWith(app, { email, password: PASSWORD, code: await codeAt(user.secret, 0) })).json(), INVALID,
      'the current step, now before the last accepted one')
  })

  t.test('wrong codes count as failed sign-ins: a right password does not clear them; MFA_REQUIRED is not counted', async (t) => {
    await awayFromStepEdge()
    const user = await withTotp(app)
    const { email } = user
    const wrong = (await codeAt(user.secret, 1)) === '111111' ? '222222' : '111111'
    for (let i = 0; i < 6; i++) t.same((await signInWith(app, { email, password: PASSWORD })).json(), REQUIRED, `no code ${i + 1}: not counted`)
    for (let i = 0; i < 4; i++) t.same((await signInWith(app, { email, password: PASSWORD, code: wrong })).json(), INVALID, `wrong code ${i + 1}`)
    t.same((await signInWith(app, { email, password: PASSWORD, code: await codeAt(user.secret, 1) })).json(), THROTTLED, 'past the limit even with the right code')
  })

  t.test('disable: password and code; wrong ones counted; a recovery code may stand for the code', async (t) => {
    await awayFromStepEdge()
    const user = await withTotp(app)
    const wrong = (await codeAt(user.secret, 1)) === '111111' ? '222222' : '111111'
    t.same((await disable(app, user.token, { password: 'not the password', code: await codeAt(user.secret, 1) })).json(), WRONG_PASSWORD)
    t.same((await disable(app, user.token, { password: PASSWORD, code: wrong })).json(), INVALID)
    t.same((await disable(app, user.token, { password: PASSWORD })).json<{ code: string }>().code, 'VALIDATION_ERROR', 'the code is required')
    t.equal((await me(app, user.token)).totp_enabled, true, 'still on')
    t.equal((await disable(app, user.token, { password: PASSWORD, code: user.recovery[3] })).statusCode, 204)
    t.equal((await me(app, user.token)).totp_enabled, false)
    t.equal((await signInWith(app, { email: user.email, password: PASSWORD })).statusCode, 200, 'no code asked any more')
    t.equal(await app.stores.totp.get(user.id), undefined, 'the secret is gone')
    t.equal(await app.stores.totp.recoveryCodesLeft(user.id), 0, 'and the recovery codes')
    const events = await app.stores.audit.list({ user_id: user.id, type: 'totp.disabled', limit: 10 })
    t.equal(events.length, 1)
    t.equal((await disable(app, user.token, { password: PASSWORD, code: '123456' })).statusCode, 204, 'again: nothing to disable, the same 204')
    t.equal((await app.stores.audit.list({ user_id: user.id, type: 'totp.disabled', limit: 10 })).length, 1, 'and no second event')
    // Set up and enable again: a new secret, new recovery codes; the old ones are no good.
    const again = (await setUp(app, user.token)).json<{ secret: string }>()
    t.equal((await confirm(app, user.token, await codeAt(again.secret))).statusCode, 200)
    t.same((await signInWith(app, { email: user.email, password: PASSWORD, code: user.recovery[4] })).json(), INVALID, 'an old recovery code')
  })

  t.test('disable: wrong codes with the right password reach the throttle', async (t) => {
    const user = await withTotp(app)
    for (let i = 0; i < 4; i++) t.same((await disable(app, user.token, { password: PASSWORD, code: 'zzzz-zzzz-zzzz-zzzz' })).json(), INVALID, `wrong ${i + 1}`)
    t.same((await disable(app, user.token, { password: PASSWORD, code: user.recovery[0] })).json(), THROTTLED)
    t.equal((await me(app, user.token)).totp_enabled, true)
  })

  t.test('reset confirm with TOTP on: a code is required; a wrong one leaves the token usable', async (t) => {
    await awayFromStepEdge()
    const user = await withTotp(app)
    t.equal((await app.inject({ method: 'POST', url: '/users/password-reset', payload: { email: user.email } })).statusCode, 202)
    const { token } = await waitForMail(app, user.email, /Reset/)
    const newPassword = 'a brand new long passphrase'
    const reset = (code?: string) => app.inject({ method: 'POST', url: '/users/password-reset/confirm', payload: { token, new_password: newPassword, ...(code === undefined ? {} : { code }) } })
    t.same((await reset()).json(), REQUIRED)
    t.same((await reset('zzzz-zzzz-zzzz-zzzz')).json(), INVALID)
    t.same((await reset(await codeAt(user.secret))).json(), INVALID, 'the confirming code is spent here too')
    const res = await reset(await codeAt(user.secret, 1))
    t.equal(res.statusCode, 204, 'the token was still usable')
    t.same((await signInWith(app, { email: user.email, password: newPassword })).json(), REQUIRED, 'TOTP stays on')
    t.equal((await signInWith(app, { email: user.email, password: newPassword, code: user.recovery[0] })).statusCode, 200)
  })

  t.test('wrong codes at reset confirm count as failed sign-ins', async (t) => {
    const user = await withTotp(app)
    await app.inject({ method: 'POST', url: '/users/password-reset', payload: { email: user.email } })
    const { token } = await waitForMail(app, user.email, /Reset/)
    const reset = (code: string) => app.inject({ method: 'POST', url: '/users/password-reset/confirm', payload: { token, new_password: 'yet another long passphrase', code } })
    for (let i = 0; i < 4; i++) t.same((await reset('zzzz-zzzz-zzzz-zzzz')).json(), INVALID, `wrong ${i + 1}`)
    t.same((await reset(user.recovery[0] ?? '')).json(), THROTTLED, 'past the limit')
    t.same((await signInWith(app, { email: user.email, password: PASSWORD, code: user.recovery[1] })).json(), THROTTLED, 'sign-in too')
  })

  t.test('a reset of an account without TOTP needs no code', async (t) => {
    const user = await signUp(app)
    await app.inject({ method: 'POST', url: '/users/password-reset', payload: { email: user.email } })
    const { token } = await waitForMail(app, user.email, /Reset/)
    t.equal((await app.inject({ method: 'POST', url: '/users/password-reset/confirm', payload: { token, new_password: 'another long passphrase' } })).statusCode, 204)
  })

  t.test('a token is required on every TOTP route', async (t) => {
    for (const [method, url] of [['POST', '/users/me/totp'], ['POST', '/users/me/totp/confirm'], ['DELETE', '/users/me/totp']] as const) {
      const res = await app.inject({ method, url, payload: {} })
      t.same(res.json(), errorBody(401, 'TOKEN_REQUIRED', 'Unauthorized', 'Token is required'), `${method} ${url}`)
    }
  })

  t.test('deleting the account takes its secret and recovery codes', async (t) => {
    const user = await withTotp(app)
    t.equal((await app.inject({ method: 'DELETE', url: '/users/me', headers: bearer(user.token), payload: { password: PASSWORD } })).statusCode, 204)
    t.equal(await app.stores.totp.get(user.id), undefined)
    t.equal(await app.stores.totp.recoveryCodesLeft(user.id), 0)
  })
})

t.test('REQUIRE_VERIFIED_EMAIL: the TOTP routes are for verified users', async (t) => {
  const app = await build(t, { requireVerifiedEmail: true })
  const user = await signUp(app, uniqueEmail('unverified'))
  const token = await signIn(app, user.email, PASSWORD)
  const refused = errorBody(403, 'EMAIL_NOT_VERIFIED', 'Forbidden', (await setUp(app, token)).json<{ message: string }>().message)
  t.same((await setUp(app, token)).json(), refused)
  t.same((await confirm(app, token, '123456')).json(), refused)
  t.same((await disable(app, token, { password: PASSWORD, code: '123456' })).json(), refused)
  const verify = await waitForMail(app, user.email, /Verify/)
  t.equal((await app.inject({ method: 'POST', url: '/users/verify-email', payload: { token: verify.token } })).statusCode, 204)
  t.equal((await setUp(app, token)).statusCode, 200, 'verified: allowed')
})
