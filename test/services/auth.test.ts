import pino from 'pino'
import t from 'tap'
import { AppError, OverloadedError } from '../../src/domain/errors'
import { Permission } from '../../src/domain/permission'
import type { AuditEntry } from '../../src/schemas/audit'
import type { AccessClaims } from '../../src/schemas/token'
import type { User, UserRecord } from '../../src/schemas/user'
import { createAuthService } from '../../src/services/auth'
import type { PasswordHasher } from '../../src/services/passwords'
import type { SignInThrottle } from '../../src/services/throttle'

const ACCOUNT: UserRecord = { id: 7, email: 'reader@example.com', permission: Permission.Author, created_at: '2026-01-01T00:00:00.000Z', email_verified: true, totp_enabled: false, password_hash: 'hash of right' }
/** The same account with TOTP on; its right code is '123456'. */
const WITH_TOTP: UserRecord = { ...ACCOUNT, id: 8, email: 'guarded@example.com', totp_enabled: true }
const SESSION = { id: 'session-1', user_id: ACCOUNT.id, created_at: ACCOUNT.created_at, last_used_at: ACCOUNT.created_at, expires_at: '2026-02-01T00:00:00.000Z' }

/** Every collaborator as a plain object that records what it was asked. */
function setUp ({ stale = false, queueFull = false } = {}) {
  const asked: string[] = []
  const signed: AccessClaims[] = []
  const recorded: AuditEntry[] = []
  const hasher: PasswordHasher = {
    admit: () => {
      asked.push('admit')
      if (queueFull) throw new OverloadedError(1)
    },
    hash: async (password) => { asked.push(`hash ${password}`); return `hash of ${password}` },
    verify: async (stored, password) => { asked.push('verify'); return stored === `hash of ${password}` },
    verifyDummy: async () => { asked.push('verifyDummy'); return false },
    needsRehash: () => stale
  }
  const throttle: SignInThrottle = {
    attempt: async (email, check) => {
      asked.push(`throttle ${email}`)
      const result = await check()
      asked.push(result === undefined ? 'counted a failure' : 'counted a success')
      return result
    },
    clear: async (email) => { asked.push(`clear ${email}`) }
  }
  const auth = createAuthService({
    users: {
      findByEmail: async (email) => [ACCOUNT, WITH_TOTP].find((u) => u.email === email),
      setPasswordHash: async (id, hash) => { asked.push(`store ${id} ${hash}`) },
      get: async () => undefined
    },
    hasher,
    throttle,
    sessions: {
      start: async (userId, ctx) => { asked.push(`start ${userId} for ${ctx.requestId}`); return { session: SESSION, refreshToken: 'first refresh' } },
      refresh: async (token, ctx) => {
        asked.push(`refresh ${token} for ${ctx.requestId}`)
        const now: User = { id: ACCOUNT.id, email: ACCOUNT.email, permission: Permission.Admin, created_at: ACCOUNT.created_at, email_verified: true, totp_enabled: false }
        return { session: SESSION, refreshToken: 'next refresh', user: now }
      }
    },
    audit: {
      append: async (entry, at) => { recorded.push(entry); return { id: recorded.length, at, ...entry } }
    },
    sign: (claims) => { signed.push(claims); return `token ${signed.length}` },
    accessTokenSeconds: 900,
    log: pino({ level: 'silent' }),
    secondFactor: { spend: async (userId, code) => { asked.push(`code ${userId} ${code}`); return code === '123456' } }
  })
  return { auth, asked, signed, recorded }
}

const CTX = { ip: '192.0.2.1', requestId: 'req-1', actorId: null }
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('sign-in: under the throttle, a session, and the token pair', async (t) => {
  const { auth, asked, signed } = setUp()
  const answer = await auth.signIn(ACCOUNT.email, 'right', undefined, CTX)
  t.same(answer, {
    tokens: { token: 'token 1', refresh_token: 'first refresh', expires_in: 900, user: { id: ACCOUNT.id, email: ACCOUNT.email } },
    sessionId: SESSION.id
  })
  t.same(asked, [`throttle ${ACCOUNT.email}`, 'verify', 'counted a success', `start ${ACCOUNT.id} for req-1`])
  t.equal(signed.length, 1, 'one token signed')
  const [claims] = signed
  t.match(claims, { user_id: ACCOUNT.id, user_name: ACCOUNT.email, permission: Permission.Author, sid: SESSION.id, jti: UUID })
  t.same(Object.keys(claims ?? {}).sort(), ['jti', 'permission', 'sid', 'user_id', 'user_name'], 'no other claim: the signer adds iat and exp')
})

t.test('refresh: the same answer, at the level as stored now, with a new jti', async (t) => {
  const { auth, asked, signed } = setUp()
  await auth.signIn(ACCOUNT.email, 'right', undefined, CTX)
  const answer = await auth.refresh('first refresh', CTX)
  t.same(answer, {
    tokens: { token: 'token 2', refresh_token: 'next refresh', expires_in: 900, user: { id: ACCOUNT.id, email: ACCOUNT.email } },
    sessionId: SESSION.id
  })
  t.match(signed[1], { user_id: ACCOUNT.id, user_name: ACCOUNT.email, permission: Permission.Admin, sid: SESSION.id, jti: UUID })
  t.not(signed[1]?.jti, signed[0]?.jti, 'every token has its own jti')
  t.notOk(asked.slice(asked.indexOf('refresh first refresh for req-1')).some((step) => step.startsWith('throttle') || step === 'verify'),
    'a refresh checks no password')
})

t.test('a wrong password and an unknown email: the same 401, a counted failure, no session, nothing signed, a failure recorded', async (t) => {
  for (const [email, password, check, userId] of [[ACCOUNT.email, 'wrong', 'verify', ACCOUNT.id], ['nobody@example.com', 'right', 'verifyDummy', null]] as const) {
    const { auth, asked, signed, recorded } = setUp()
    const err = await auth.signIn(email, password, undefined, CTX).catch((e: unknown) => e)
    t.ok(err instanceof AppError, email)
    const { statusCode, code, message } = err as AppError
    t.same({ statusCode, code, message }, { statusCode: 401, code: 'INVALID_CREDENTIALS', message: 'Invalid email or password' }, email)
    t.same(asked, [`throttle ${email}`, check, 'counted a failure'], `${email}: ${check}, counted`)
    t.same(signed, [])
    t.same(recorded, [{ type: 'user.sign_in_failed', user_id: userId, actor_id: null, ip: CTX.ip, request_id: CTX.requestId, details: { method: 'password' } }],
      `${email}: recorded, without the address`)
  }
})

t.test('a hash with old parameters is replaced at sign-in, by one that may not be shed', async (t) => {
  const { auth, asked } = setUp({ stale: true })
  await auth.signIn(ACCOUNT.email, 'right', undefined, CTX)
  t.same(asked, [`throttle ${ACCOUNT.email}`, 'verify', 'counted a success', 'hash right', `store ${ACCOUNT.id} hash of right`, `start ${ACCOUNT.id} for req-1`])
})

t.test('admitPasswordWork asks the hasher, whose refusal is the 503', async (t) => {
  const { auth, asked } = setUp()
  auth.admitPasswordWork()
  t.same(asked, ['admit'])
  const full = setUp({ queueFull: true })
  t.throws(() => { full.auth.admitPasswordWork() }, OverloadedError)
})

t.test('TOTP off: a code is ignored', async (t) => {
  const { auth, asked } = setUp()
  await auth.signIn(ACCOUNT.email, 'right', '000000', CTX)
  t.same(asked, [`throttle ${ACCOUNT.email}`, 'verify', 'counted a success', `start ${ACCOUNT.id} for req-1`], 'no code checked')
})

t.test('TOTP on: no code is MFA_REQUIRED, neither counted nor recorded; nothing starts', async (t) => {
  const { auth, asked, recorded } = setUp()
  const err = await auth.signIn(WITH_TOTP.email, 'right', undefined, CTX).catch((e: unknown) => e)
  const { statusCode, code, message } = err as AppError
  t.same({ statusCode, code, message }, { statusCode: 401, code: 'MFA_REQUIRED', message: 'a second factor is required' })
  t.same(asked, [`throttle ${WITH_TOTP.email}`, 'verify'], 'thrown out of the attempt: no failure counted, no success clears the count')
  t.same(recorded, [])
})

t.test('TOTP on: a wrong code is MFA_CODE_INVALID, a counted failure, recorded without the code', async (t) => {
  const { auth, asked, recorded, signed } = setUp()
  const err = await auth.signIn(WITH_TOTP.email, 'right', '654321', CTX).catch((e: unknown) => e)
  const { statusCode, code } = err as AppError
  t.same({ statusCode, code }, { statusCode: 401, code: 'MFA_CODE_INVALID' })
  t.same(asked, [`throttle ${WITH_TOTP.email}`, 'verify', `code ${WITH_TOTP.id} 654321`, 'counted a failure'])
  t.same(signed, [])
  t.same(recorded.map((e) => [e.type, e.user_id, e.details]), [['user.sign_in_failed', WITH_TOTP.id, { method: 'password', factor: 'totp' }]])
})

t.test('TOTP on: a wrong password is INVALID_CREDENTIALS and no code is looked at', async (t) => {
  const { auth, asked } = setUp()
  const err = await auth.signIn(WITH_TOTP.email, 'wrong', '123456', CTX).catch((e: unknown) => e)
  t.equal((err as AppError).code, 'INVALID_CREDENTIALS')
  t.same(asked, [`throttle ${WITH_TOTP.email}`, 'verify', 'counted a failure'], 'the code is not spent')
})

t.test('TOTP on: the right password and code, one success, a session', async (t) => {
  const { auth, asked } = setUp()
  await auth.signIn(WITH_TOTP.email, 'right', '123456', CTX)
  t.same(asked, [`throttle ${WITH_TOTP.email}`, 'verify', `code ${WITH_TOTP.id} 123456`, 'counted a success', `start ${WITH_TOTP.id} for req-1`])
})
