import t from 'tap'
import { ADMIN, bearer, build, errorBody, signIn, signUp, uniqueEmail, userWith } from '../support/app'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('POST /users', async (t) => {
  const app = await build(t)

  t.test('signs up a User, trimmed and lower-cased, with a Location', async (t) => {
    const tag = uniqueEmail('Mixed')
    const res = await app.inject({ method: 'POST', url: '/users', payload: { email: `  ${tag.toUpperCase()} `, password: 'a fine long passphrase' } })
    t.equal(res.statusCode, 201)
    const body = res.json()
    t.same(body, { id: body.id, email: tag.toLowerCase() })
    t.equal(res.headers.location, `/users/${body.id}`)
    const token = await signIn(app, tag.toLowerCase(), 'a fine long passphrase')
    const me = await app.inject({ url: '/users/me', headers: bearer(token) })
    t.same(me.json(), { id: body.id, email: tag.toLowerCase(), permission: 1, created_at: me.json().created_at, email_verified: false, totp_enabled: false })
  })

  t.test('a second sign-up with the same email in any case is 409', async (t) => {
    const email = uniqueEmail()
    await signUp(app, email)
    const res = await app.inject({ method: 'POST', url: '/users', payload: { email: email.toUpperCase(), password: 'another long passphrase' } })
    t.equal(res.statusCode, 409)
    t.same(res.json(), errorBody(409, 'EMAIL_TAKEN', 'Conflict', 'An account with this email already exists'))
  })

  t.test('20 concurrent sign-ups with one email: exactly one 201', async (t) => {
    const email = uniqueEmail('race')
    const results = await Promise.all(Array.from({ length: 20 }, () =>
      app.inject({ method: 'POST', url: '/users', payload: { email, password: 'a fine long passphrase' } })))
    const codes = results.map((r) => r.statusCode).sort()
    t.same(codes, [201, ...Array<number>(19).fill(409)])
  })

  const invalid: Array<[string, unknown, string]> = [
    ['a malformed email', { email: 'not-an-email', password: 'a fine long passphrase' }, '/email'],
    ['an email over 254 characters', { email: `${'a'.repeat(250)}@example.com`, password: 'a fine long passphrase' }, '/email'],
    ['a 7-character password', { email: uniqueEmail(), password: '1234567' }, '/password'],
    ['a 129-character password', { email: uniqueEmail(), password: 'x'.repeat(129) }, '/password'],
    ['a missing password', { email: uniqueEmail() }, '/password'],
    ['a number for a password', { email: uniqueEmail(), password: 12345678 }, '/password'],
    ['null for an email', { email: null, password: 'a fine long passphrase' }, '/email'],
    ['an unknown field', { email: uniqueEmail(), password: 'a fine long passphrase', permission: 3 }, '/permission']
  ]
  for (const [what, payload, path] of invalid) {
    t.test(`refuses ${what} with 400 and details`, async (t) => {
      const res = await app.inject({ method: 'POST', url: '/users', payload: payload as object })
      t.equal(res.statusCode, 400)
      const body = res.json()
      t.match(body, { statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request', message: String })
      t.ok(body.details.some((d: { path: string }) => d.path === path), `details name ${path}`)
    })
  }

  t.test('accepts a 128-character password and an 8-character one', async (t) => {
    for (const password of ['p'.repeat(127) + 'q', 'zq8#Lm2v']) {
      const res = await app.inject({ method: 'POST', url: '/users', payload: { email: uniqueEmail(), password } })
      t.equal(res.statusCode, 201)
    }
  })

  t.test('refuses a common breached password, in any case', async (t) => {
    for (const password of ['password123', 'PASSWORD123', 'qwertyuiop']) {
      const res = await app.inject({ method: 'POST', url: '/users', payload: { email: uniqueEmail(), password } })
      t.equal(res.statusCode, 400, password)
      t.same(res.json(), errorBody(400, 'PASSWORD_TOO_COMMON', 'Bad Request',
        'This password appears in a list of commonly breached passwords; choose another'))
    }
  })

  t.test('stores an argon2id hash, never the password', async (t) => {
    const email = uniqueEmail()
    await signUp(app, email, 'a fine long passphrase')
    const record = await app.stores.users.findByEmail(email)
    t.match(record?.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22,}\$[A-Za-z0-9+/]{43}$/)
    t.notMatch(record?.password_hash, /fine long/)
  })
})

t.test('POST /users/sign-in', async (t) => {
  const app = await build(t)
  const user = await signUp(app)

  t.test('answers a token and the user', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: ` ${user.email.toUpperCase()}`, password: user.password } })
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.same(body, { token: body.token, refresh_token: body.refresh_token, expires_in: 3600, user: { id: user.id, email: user.email } })
    t.match(body.refresh_token, /^[A-Za-z0-9_-]{43,}$/, 'at least 256 random bits')
    const claims = app.jwt.decode<Record<string, unknown>>(body.token)
    t.match(claims, { user_id: user.id, user_name: user.email, permission: 1, iat: Number, exp: Number, jti: /^[0-9a-f-]{36}$/, sid: /^[0-9a-f]{32}$/ })
    t.equal((claims?.exp as number) - (claims?.iat as number), 60 * 60, 'lifetime: ACCESS_TOKEN_MINUTES, 60 by default')
  })

  t.test('an unknown email and a wrong password answer alike', async (t) => {
    const wrong = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: 'not the password' } })
    const unknown = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: uniqueEmail(), password: 'not the password' } })
    const expected = errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'Invalid email or password')
    t.same(wrong.json(), expected)
    t.same(unknown.json(), expected)
    t.equal(wrong.statusCode, 401)
    t.equal(unknown.statusCode, 401)
    t.equal(wrong.headers['www-authenticate'], 'Bearer')
    t.equal(unknown.headers['www-authenticate'], 'Bearer')
  })

  t.test('requires both fields; a password over 128 characters is 400', async (t) => {
    for (const payload of [{ email: user.email }, { password: 'x' }, { email: user.email, password: 'x'.repeat(129) }, { email: '', password: 'x' }, { email: '\t \u00a0\ufeff', password: 'x' }]) {
      const res = await app.inject({ method: 'POST', url: '/users/sign-in', payload })
      t.equal(res.statusCode, 400)
      t.equal(res.json().code, 'VALIDATION_ERROR')
    }
  })
})

t.test('sign-in throttle: after N failures for one email, 429 until the window passes', async (t) => {
  const app = await build(t, { signinMaxFailures: 3 })
  const user = await signUp(app)
  const attempt = (email: string, password: string) =>
    app.inject({ method: 'POST', url: '/users/sign-in', payload: { email, password } })

  for (let i = 0; i < 3; i++) t.equal((await attempt(user.email, 'wrong password')).statusCode, 401)
  const blocked = await attempt(user.email, user.password)
  t.equal(blocked.statusCode, 429, 'even the right password waits')
  t.same(blocked.json(), errorBody(429, 'TOO_MANY_SIGN_IN_FAILURES', 'Too Many Requests', 'Too many failed sign-ins for this email; try again later'))
  const retryAfter = Number(blocked.headers['retry-after'])
  t.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After within the window (${retryAfter})`)

  const ghost = uniqueEmail('ghost')
  for (let i = 0; i < 3; i++) t.equal((await attempt(ghost, 'wrong password')).statusCode, 401)
  t.equal((await attempt(ghost, 'wrong password')).statusCode, 429, 'an email without an account is throttled the same')

  const other = await signUp(app)
  t.equal((await attempt(other.email, other.password)).statusCode, 200, 'other emails are not affected')
})

t.test('a success before the limit resets the failure count', async (t) => {
  const app = await build(t, { signinMaxFailures: 3 })
  const user = await signUp(app)
  const attempt = (password: string) => app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password } })
  await attempt('wrong password')
  await attempt('wrong password')
  t.equal((await attempt(user.password)).statusCode, 200)
  await attempt('wrong password')
  await attempt('wrong password')
  t.equal((await attempt(user.password)).statusCode, 200)
})

t.test('per-address rate limit on sign-up and sign-in', async (t) => {
  const app = await build(t, { authRateLimit: 3 })
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: uniqueEmail(), password: 'whatever pass' } })
    t.equal(res.statusCode, 401)
  }
  const limited = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: uniqueEmail(), password: 'whatever pass' } })
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: String })
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After')
  const signUpRes = await app.inject({ method: 'POST', url: '/users', payload: { email: uniqueEmail(), password: 'a fine long passphrase' } })
  t.equal(signUpRes.statusCode, 201, 'each route has its own budget')
  t.equal((await app.inject({ url: '/books' })).statusCode, 200, 'other routes are not limited')
})

t.test('GET /users/me', async (t) => {
  const app = await build(t)
  const user = await userWith(app, 1)
  const res = await app.inject({ url: '/users/me', headers: bearer(user.token) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { id: user.id, email: user.email, permission: 1, created_at: res.json().created_at, email_verified: false, totp_enabled: false })
  t.match(res.json().created_at, ISO_UTC)

  const none = await userWith(app, 0)
  const forbidden = await app.inject({ url: '/users/me', headers: bearer(none.token) })
  t.equal(forbidden.statusCode, 403)
  t.same(forbidden.json(), errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized'))

  const anonymous = await app.inject({ url: '/users/me' })
  t.equal(anonymous.statusCode, 401)
  t.same(anonymous.json(), errorBody(401, 'TOKEN_REQUIRED', 'Unauthorized', 'Token is required'))
})

t.test('PATCH /users/:id', async (t) => {
  const app = await build(t)
  const adminToken = await signIn(app, ADMIN.email, ADMIN.password)
  const adminId = (await app.inject({ url: '/users/me', headers: bearer(adminToken) })).json().id as number
  const user = await signUp(app)

  t.test('an Admin sets a level and the user is answered', async (t) => {
    const res = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, headers: bearer(adminToken), payload: { permission: 2 } })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { id: user.id, email: user.email, permission: 2, created_at: res.json().created_at, email_verified: false, totp_enabled: false })
    const token = await signIn(app, user.email, user.password)
    t.equal(app.jwt.decode<{ permission: number }>(token)?.permission, 2, 'the next token carries the new level')
  })

  t.test('an Admin may promote another to Admin', async (t) => {
    const other = await signUp(app)
    const res = await app.inject({ method: 'PATCH', url: `/users/${other.id}`, headers: bearer(adminToken), payload: { permission: 3 } })
    t.equal(res.json().permission, 3)
  })

  t.test('an Admin cannot lower its own level', async (t) => {
    const res = await app.inject({ method: 'PATCH', url: `/users/${adminId}`, headers: bearer(adminToken), payload: { permission: 2 } })
    t.equal(res.statusCode, 409)
    t.same(res.json(), errorBody(409, 'CANNOT_LOWER_OWN_PERMISSION', 'Conflict', 'An Admin cannot lower its own permission level'))
    const same = await app.inject({ method: 'PATCH', url: `/users/${adminId}`, headers: bearer(adminToken), payload: { permission: 3 } })
    t.equal(same.statusCode, 200, 'keeping Admin is fine')
  })

  t.test('validation: level out of range, wrong type, extra field, bad id', async (t) => {
    for (const payload of [{ permission: 4 }, { permission: -1 }, { permission: '2' }, { permission: 1.5 }, { permission: 2, email: 'x@y.z' }, {}]) {
      const res = await app.inject({ method: 'PATCH', url: `/users/${user.id}`, headers: bearer(adminToken), payload })
      t.equal(res.statusCode, 400, JSON.stringify(payload))
      t.equal(res.json().code, 'VALIDATION_ERROR')
    }
    const badId = await app.inject({ method: 'PATCH', url: '/users/abc', headers: bearer(adminToken), payload: { permission: 2 } })
    t.equal(badId.statusCode, 400)
  })

  t.test('an unknown user is 404', async (t) => {
    const res = await app.inject({ method: 'PATCH', url: '/users/999999', headers: bearer(adminToken), payload: { permission: 2 } })
    t.equal(res.statusCode, 404)
    t.same(res.json(), errorBody(404, 'USER_NOT_FOUND', 'Not Found', 'User not found'))
  })

  t.test('below Admin is 403; no token is 401', async (t) => {
    const author = await userWith(app, 2)
    const res = await app.inject({ method: 'PATCH', url: `/users/${author.id}`, headers: bearer(author.token), payload: { permission: 3 } })
    t.equal(res.statusCode, 403)
    t.same(res.json(), errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized'))
    const anonymous = await app.inject({ method: 'PATCH', url: `/users/${author.id}`, payload: { permission: 3 } })
    t.equal(anonymous.statusCode, 401)
  })
})

t.test('the bootstrap Admin is created, then promoted on a later start', async (t) => {
  const { mkdtempSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const path = await import('node:path')
  const db = `sqlite:${path.join(mkdtempSync(path.join(tmpdir(), 'bookstore-admin-')), 'admin.db')}`
  const first = await build(t, { databaseUrl: db, adminEmail: undefined, adminPassword: undefined })
  const user = await signUp(first, uniqueEmail('boss'))
  await first.close()
  const second = await build(t, { databaseUrl: db, adminEmail: user.email.toUpperCase(), adminPassword: 'ignored for an existing account' })
  const token = await signIn(second, user.email, user.password)
  const me = await second.inject({ url: '/users/me', headers: bearer(token) })
  t.equal(me.json().permission, 3, 'promoted, password unchanged')
})
