import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { AuditEvent } from '../../src/schemas/audit'
import type { User } from '../../src/schemas/user'
import { ADMIN, bearer, build, errorBody, signIn, signUp, startSession, uniqueEmail } from '../support/app'
import { mailbox, waitForMail } from '../support/mail'

const VERIFICATION_INVALID = errorBody(400, 'VERIFICATION_TOKEN_INVALID', 'Bad Request', 'This verification token is unknown, used, superseded or expired; ask for a new one')
const RESET_INVALID = errorBody(400, 'RESET_TOKEN_INVALID', 'Bad Request', 'This reset token is unknown, used or expired; ask for a new one')
const EMAIL_TAKEN = errorBody(409, 'EMAIL_TAKEN', 'Conflict', 'An account with this email already exists')
const WRONG_PASSWORD = errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'The current password is not correct')
const NOT_VERIFIED = errorBody(403, 'EMAIL_NOT_VERIFIED', 'Forbidden', 'Verify your email address first: POST /users/me/verify-email sends a new message')

async function me (app: FastifyInstance, token: string): Promise<User> {
  const res = await app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) })
  if (res.statusCode !== 200) throw new Error(`GET /users/me: ${res.statusCode} ${res.body}`)
  return res.json<User>()
}

async function tokenOf (app: FastifyInstance, to: string, subject: RegExp, count = 1): Promise<string> {
  const message = await waitForMail(app, to, subject, { count })
  if (message.token === undefined) throw new Error(`no Token: line in ${message.subject}`)
  return message.token
}

const post = (app: FastifyInstance, url: string, payload?: object, token?: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url, ...(payload === undefined ? {} : { payload }), ...(token === undefined ? {} : { headers: bearer(token) }) })

/** The newest audit events of `type` about `userId`, straight from the store. */
async function events (app: FastifyInstance, userId: number, type: AuditEvent['type']): Promise<AuditEvent[]> {
  return app.stores.audit.list({ user_id: userId, type, limit: 100 })
}

/** Waits for the background part of a reset request (it runs after the answer). */
const settled = (app: FastifyInstance): Promise<void> => app.accounts.drain()

t.test('sign-up sends a verification message; its token verifies the address once', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  const token = await signIn(app, user.email, user.password)
  t.same(await me(app, token), { id: user.id, email: user.email, permission: 1, created_at: (await me(app, token)).created_at, email_verified: false, totp_enabled: false })

  const message = await waitForMail(app, user.email, /Verify/)
  t.match(message.text, /^Token: [A-Za-z0-9_-]{43}$/m, 'the token on a line of its own, 256 bits base64url')
  t.equal(message.link, `${app.config.publicUrl}/verify-email?token=${message.token}`)
  t.match(message.html, message.token ?? 'none', 'the HTML part shows it too')
  const signedUp = await events(app, user.id, 'user.signed_up')
  t.equal(signedUp.length, 1)
  t.match(signedUp[0], { user_id: user.id, actor_id: null, details: {} })

  const res = await post(app, '/users/verify-email', { token: message.token })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.equal((await me(app, token)).email_verified, true)
  t.equal((await events(app, user.id, 'user.email_verified')).length, 1)

  const again = await post(app, '/users/verify-email', { token: message.token })
  t.equal(again.statusCode, 400)
  t.same(again.json(), VERIFICATION_INVALID, 'a used token is no good')

  const admin = await signIn(app, ADMIN.email, ADMIN.password)
  const listed = await app.inject({ method: 'GET', url: `/users/${user.id}`, headers: bearer(admin) })
  t.equal(listed.json<User>().email_verified, true, 'GET /users/:id answers it')
  t.equal((await me(app, admin)).email_verified, true, 'the bootstrap Admin counts as verified')
  const list = await app.inject({ method: 'GET', url: `/users?q=${encodeURIComponent(user.email)}`, headers: bearer(admin) })
  t.same(list.json<User[]>().map((u) => u.email_verified), [true])
})

t.test('verify-email: validation and unknown tokens', async (t) => {
  const app = await build(t)
  for (const payload of [{}, { token: '' }, { token: 5 }, { token: 'x', extra: 1 }, { token: 'x'.repeat(129) }]) {
    const res = await post(app, '/users/verify-email', payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(res.json<{ code: string }>().code, 'VALIDATION_ERROR')
  }
  const res = await post(app, '/users/verify-email', { token: 'A'.repeat(43) })
  t.equal(res.statusCode, 400)
  t.same(res.json(), VERIFICATION_INVALID)
})

t.test('a verification token expires', async (t) => {
  const app = await build(t, { verifyEmailHours: 0.5 / 3600 })
  const user = await signUp(app)
  const token = await tokenOf(app, user.email, /Verify/)
  await sleep(600)
  const res = await post(app, '/users/verify-email', { token })
  t.same([res.statusCode, res.json()], [400, VERIFICATION_INVALID])
})

t.test('POST /users/me/verify-email: a new token supersedes the old; 5 an hour; 409 once verified', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  const token = await signIn(app, user.email, user.password)
  const first = await tokenOf(app, user.email, /Verify/)

  const unauthenticated = await post(app, '/users/me/verify-email')
  t.equal(unauthenticated.statusCode, 401)
  t.equal(unauthenticated.json<{ code: string }>().code, 'TOKEN_REQUIRED')

  for (let i = 1; i <= 5; i++) {
    const res = await post(app, '/users/me/verify-email', undefined, token)
    t.equal(res.statusCode, 202, `resend ${i}`)
    t.equal(res.body, '')
  }
  const limited = await post(app, '/users/me/verify-email', undefined, token)
  t.equal(limited.statusCode, 429)
  t.same(limited.json(), errorBody(429, 'TOO_MANY_EMAILS', 'Too Many Requests', 'Too many messages asked for; try again later'))
  t.equal(limited.headers['retry-after'], '3600')

  const newest = await tokenOf(app, user.email, /Verify/, 6)
  const old = await post(app, '/users/verify-email', { token: first })
  t.same([old.statusCode, old.json()], [400, VERIFICATION_INVALID], 'superseded by the resends')
  t.equal((await post(app, '/users/verify-email', { token: newest })).statusCode, 204)

  const verified = await post(app, '/users/me/verify-email', undefined, token)
  t.equal(verified.statusCode, 409)
  t.same(verified.json(), errorBody(409, 'EMAIL_ALREADY_VERIFIED', 'Conflict', 'This email address is verified already'))
})

t.test('password reset: 202 either way, a token that sets a new password once, sessions end', async (t) => {
  const app = await build(t, { signinMaxFailures: 3 })
  const user = await signUp(app)
  const session = await startSession(app, user.email, user.password)
  // A few failed sign-ins: the reset clears them.
  for (let i = 0; i < 3; i++) await post(app, '/users/sign-in', { email: user.email, password: 'not the password at all' })
  t.equal((await post(app, '/users/sign-in', { email: user.email, password: user.password })).statusCode, 429, 'throttled')

  const unknown = await post(app, '/users/password-reset', { email: uniqueEmail('nobody') })
  const known = await post(app, '/users/password-reset', { email: `  ${user.email.toUpperCase()} ` })
  for (const res of [unknown, known]) {
    t.equal(res.statusCode, 202)
    t.equal(res.body, '')
  }
  t.same(unknown.headers['content-type'], known.headers['content-type'])
  await settled(app)
  const message = await waitForMail(app, user.email, /Reset/)
  t.equal(message.link, `${app.config.publicUrl}/password-reset?token=${message.token}`)
  t.equal((await events(app, user.id, 'user.password_reset_requested')).length, 1)
  t.equal((await mailbox(app)).filter((m) => /Reset/.test(m.subject)).length, 1, 'nothing for the unknown address')

  const common = await post(app, '/users/password-reset/confirm', { token: message.token, new_password: 'password123' })
  t.equal(common.statusCode, 400)
  t.equal(common.json<{ code: string }>().code, 'PASSWORD_TOO_COMMON')

  const res = await post(app, '/users/password-reset/confirm', { token: message.token, new_password: 'a brand new passphrase', code: '123456' })
  t.equal(res.statusCode, 204, 'the refused password left the token usable; code is accepted')
  const reused = await post(app, '/users/password-reset/confirm', { token: message.token, new_password: 'yet another passphrase' })
  t.same([reused.statusCode, reused.json()], [400, RESET_INVALID])

  const old = await app.inject({ method: 'GET', url: '/users/me', headers: bearer(session.token) })
  t.equal(old.statusCode, 401, 'every session ended')
  t.equal(old.json<{ code: string }>().code, 'TOKEN_REVOKED')
  const fresh = await signIn(app, user.email, 'a brand new passphrase') // the throttle was cleared
  t.equal((await me(app, fresh)).email_verified, true, 'the address counts as verified')
  const notice = await waitForMail(app, user.email, /Password changed/)
  t.equal(notice.token, undefined, 'no token in the notice')
  t.equal((await events(app, user.id, 'user.password_reset')).length, 1)
})

t.test('password reset: validation, unknown tokens, expiry, supersession', async (t) => {
  const app = await build(t, { resetTokenMinutes: 1 / 120 })
  for (const payload of [{}, { email: 'not an address' }, { email: 'a@example.com', more: 1 }, { email: null }]) {
    const res = await post(app, '/users/password-reset', payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(res.json<{ code: string }>().code, 'VALIDATION_ERROR')
  }
  for (const payload of [{ token: 'x' }, { token: 'x', new_password: 'short' }, { token: 'x', new_password: 'a long passphrase', code: '' }, { token: 'x', new_password: 'a long passphrase', code: 'x'.repeat(65) }]) {
    const res = await post(app, '/users/password-reset/confirm', payload)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(res.json<{ code: string }>().code, 'VALIDATION_ERROR')
  }
  const unknown = await post(app, '/users/password-reset/confirm', { token: 'A'.repeat(43), new_password: 'a brand new passphrase' })
  t.same([unknown.statusCode, unknown.json()], [400, RESET_INVALID])

  const user = await signUp(app)
  await post(app, '/users/password-reset', { email: user.email })
  await settled(app)
  const first = await tokenOf(app, user.email, /Reset/)
  await post(app, '/users/password-reset', { email: user.email })
  await settled(app)
  const second = await tokenOf(app, user.email, /Reset/, 2)
  const superseded = await post(app, '/users/password-reset/confirm', { token: first, new_password: 'a brand new passphrase' })
  t.same([superseded.statusCode, superseded.json()], [400, RESET_INVALID], 'a newer request makes the earlier token invalid')
  await sleep(700)
  const expired = await post(app, '/users/password-reset/confirm', { token: second, new_password: 'a brand new passphrase' })
  t.same([expired.statusCode, expired.json()], [400, RESET_INVALID], 'expired')
})

t.test('password reset: at most 3 messages per address in 15 minutes', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  for (let i = 0; i < 5; i++) {
    const res = await post(app, '/users/password-reset', { email: user.email })
    t.equal(res.statusCode, 202)
  }
  await settled(app)
  await sleep(300) // the worker's last delivery
  await waitForMail(app, user.email, /Reset/, { count: 3 })
  t.equal((await mailbox(app)).filter((m) => /Reset/.test(m.subject)).length, 3)
})

t.test('password reset and confirm: the per-address request limit', async (t) => {
  const app = await build(t, { authRateLimit: 2 })
  for (const url of ['/users/password-reset', '/users/password-reset/confirm']) {
    const payload = url.endsWith('confirm') ? { token: 'A'.repeat(43), new_password: 'a brand new passphrase' } : { email: uniqueEmail() }
    await post(app, url, payload)
    await post(app, url, payload)
    const res = await post(app, url, payload)
    t.equal(res.statusCode, 429, url)
    t.equal(res.json<{ code: string }>().code, 'RATE_LIMITED')
    t.ok(res.headers['retry-after'])
  }
  await settled(app)
})

t.test('PUT /users/me/password sends a "Password changed" notice and records the change', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  const token = await signIn(app, user.email, user.password)
  const res = await app.inject({ method: 'PUT', url: '/users/me/password', headers: bearer(token), payload: { current_password: user.password, new_password: 'a brand new passphrase' } })
  t.equal(res.statusCode, 204)
  const notice = await waitForMail(app, user.email, /Password changed/)
  t.equal(notice.token, undefined)
  t.notMatch(notice.text, /Token:/)
  t.equal((await events(app, user.id, 'user.password_changed')).length, 1)
})

t.test('email change: token to the new address, notice to the current; nothing changes until it is used', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  const token = await signIn(app, user.email, user.password)
  const newEmail = uniqueEmail('moved')

  const res = await post(app, '/users/me/email', { password: user.password, new_email: `  ${newEmail.toUpperCase()}` }, token)
  t.equal(res.statusCode, 202)
  t.equal(res.body, '')
  const notice = await waitForMail(app, user.email, /Email change/)
  t.equal(notice.token, undefined)
  const change = await tokenOf(app, newEmail, /Verify/)
  t.equal((await me(app, token)).email, user.email, 'nothing changed yet')

  const used = await post(app, '/users/verify-email', { token: change })
  t.equal(used.statusCode, 204)
  t.same(await me(app, token), { ...(await me(app, token)), email: newEmail, email_verified: true })
  t.equal((await events(app, user.id, 'user.email_changed')).length, 1)
  // The old token still works (it carries the old user_name); new sign-ins use the new address.
  t.equal((await startSession(app, newEmail, user.password)).user.email, newEmail)
  const signUpToken = await tokenOf(app, user.email, /Verify/)
  const stale = await post(app, '/users/verify-email', { token: signUpToken })
  t.same([stale.statusCode, stale.json()], [400, VERIFICATION_INVALID], "the old address's token speaks for no one")
  // The old address is free again.
  t.equal((await post(app, '/users', { email: user.email, password: 'a fine long passphrase' })).statusCode, 201)
})

t.test('email change: validation, wrong password (throttled), taken addresses', async (t) => {
  const app = await build(t, { signinMaxFailures: 2 })
  const user = await signUp(app)
  const other = await signUp(app)
  const token = await signIn(app, user.email, user.password)

  const anonymous = await post(app, '/users/me/email', { password: user.password, new_email: uniqueEmail() })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json<{ code: string }>().code, 'TOKEN_REQUIRED')
  for (const payload of [{}, { password: user.password }, { password: user.password, new_email: 'nope' }, { password: user.password, new_email: `${'a'.repeat(250)}@example.com` }, { password: '', new_email: uniqueEmail() }]) {
    const res = await post(app, '/users/me/email', payload, token)
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.equal(res.json<{ code: string }>().code, 'VALIDATION_ERROR')
  }
  const taken = await post(app, '/users/me/email', { password: user.password, new_email: other.email.toUpperCase() }, token)
  t.same([taken.statusCode, taken.json()], [409, EMAIL_TAKEN])
  const own = await post(app, '/users/me/email', { password: user.password, new_email: user.email }, token)
  t.same([own.statusCode, own.json()], [409, EMAIL_TAKEN], 'the current address is not free either')

  const wrong = await post(app, '/users/me/email', { password: 'not the password at all', new_email: uniqueEmail() }, token)
  t.same([wrong.statusCode, wrong.json()], [401, WRONG_PASSWORD])
  t.equal(wrong.headers['www-authenticate'], 'Bearer')
  await post(app, '/users/me/email', { password: 'not the password at all', new_email: uniqueEmail() }, token)
  const throttled = await post(app, '/users/me/email', { password: user.password, new_email: uniqueEmail() }, token)
  t.equal(throttled.statusCode, 429)
  t.equal(throttled.json<{ code: string }>().code, 'TOO_MANY_SIGN_IN_FAILURES')
})

t.test('email change: the new address taken meanwhile is 409 when the token is used', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  const token = await signIn(app, user.email, user.password)
  const newEmail = uniqueEmail('contested')
  t.equal((await post(app, '/users/me/email', { password: user.password, new_email: newEmail }, token)).statusCode, 202)
  const change = await tokenOf(app, newEmail, /Verify/)
  await signUp(app, newEmail)
  const res = await post(app, '/users/verify-email', { token: change })
  t.same([res.statusCode, res.json()], [409, EMAIL_TAKEN])
  t.equal((await me(app, token)).email, user.email)
})

t.test('PATCH /users/:id records user.permission_changed with from and to', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  const admin = await signIn(app, ADMIN.email, ADMIN.password)
  const res = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, headers: bearer(admin), payload: { permission: 2 } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { id: user.id, email: user.email, permission: 2, created_at: res.json<User>().created_at, email_verified: false, totp_enabled: false })
  const [event] = await events(app, user.id, 'user.permission_changed')
  t.match(event, { user_id: user.id, details: { from: 1, to: 2 } })
  t.not(event?.actor_id, null)
})

t.test('REQUIRE_VERIFIED_EMAIL: unverified users may only reach the routes that let them verify, look, secure or move', async (t) => {
  const app = await build(t, { requireVerifiedEmail: true })
  const user = await signUp(app)
  const session = await startSession(app, user.email, user.password)
  const token = session.token

  const review = await post(app, '/reviews', { book_id: 1, title: 'x', content: 'y' }, token)
  t.same([review.statusCode, review.json()], [403, NOT_VERIFIED])
  const password = await app.inject({ method: 'PUT', url: '/users/me/password', headers: bearer(token), payload: { current_password: user.password, new_password: 'a brand new passphrase' } })
  t.same([password.statusCode, password.json()], [403, NOT_VERIFIED])

  t.equal((await app.inject({ method: 'GET', url: '/users/me', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/users/me/sessions', headers: bearer(token) })).statusCode, 200)
  t.equal((await post(app, '/users/me/verify-email', undefined, token)).statusCode, 202)
  t.equal((await post(app, '/users/me/email', { password: user.password, new_email: uniqueEmail() }, token)).statusCode, 202)

  // Two "Verify" messages (sign-up's, then the resend's): the resend spent the first token. The
  // order they arrive in is not the order they were sent in when a send was retried (a busy
  // SMTP server), so each is tried: exactly one verifies.
  await waitForMail(app, user.email, /Verify/, { count: 2 })
  const tokens = (await mailbox(app, user.email)).filter((m) => /Verify/.test(m.subject)).map((m) => m.token)
  const statuses = []
  for (const verification of tokens) statuses.push((await post(app, '/users/verify-email', { token: verification })).statusCode)
  t.same(statuses.sort(), [204, 400], 'one live token, the first one spent')
  const after = await app.inject({ method: 'PUT', url: '/users/me/password', headers: bearer(token), payload: { current_password: user.password, new_password: 'a brand new passphrase' } })
  t.equal(after.statusCode, 204, 'verified: the next request is admitted')
  t.equal((await post(app, '/users/sign-out', undefined, token)).statusCode, 204)
})

t.test('closing the app waits for the reset requests already answered', async (t) => {
  // One SQLite file for two apps in turn: the second reads what the first did before it closed.
  const databaseUrl = `sqlite:${path.join(t.testdir(), 'bookstore.db')}`
  const app = await build(t, { databaseUrl })
  const user = await signUp(app)
  t.equal((await post(app, '/users/password-reset', { email: user.email })).statusCode, 202)
  await app.accounts.drain()
  t.equal((await events(app, user.id, 'user.password_reset_requested')).length, 1, 'drain waits for it')
  t.equal((await post(app, '/users/password-reset', { email: user.email })).statusCode, 202)
  await app.close()
  const after = await build(t, { databaseUrl })
  t.equal((await events(after, user.id, 'user.password_reset_requested')).length, 2, 'close waited for the second')
})

t.test('the mail limits hold for requests racing each other (decided in SQL under the user row lock)', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  const token = await signIn(app, user.email, user.password)
  const answers = await Promise.all(Array.from({ length: 8 }, () => post(app, '/users/me/verify-email', undefined, token)))
  t.same(answers.map((r) => r.statusCode).sort(), [202, 202, 202, 202, 202, 429, 429, 429])

  const other = await signUp(app)
  await Promise.all(Array.from({ length: 6 }, () => post(app, '/users/password-reset', { email: other.email })))
  await settled(app)
  await waitForMail(app, other.email, /Reset/, { count: 3 })
  await sleep(300)
  t.equal((await mailbox(app)).filter((m) => m.to.includes(other.email) && /Reset/.test(m.subject)).length, 3)
})
