import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { ADMIN, SAMPLE_BOOK, bearer, build, errorBody, signUp, startSession, uniqueEmail, userWith, type TokenPair } from '../support/app'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const REVOKED = errorBody(401, 'TOKEN_REVOKED', 'Unauthorized', 'invalid token')
const REFRESH_INVALID = errorBody(401, 'REFRESH_TOKEN_INVALID', 'Unauthorized', 'invalid token')
const REFRESH_REUSED = errorBody(401, 'REFRESH_TOKEN_REUSED', 'Unauthorized', 'invalid token')
const SESSION_NOT_FOUND = errorBody(404, 'SESSION_NOT_FOUND', 'Not Found', 'Session not found')
const PASSWORD = 'a fine long passphrase'

const refresh = (app: FastifyInstance, token: string) =>
  app.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: token } })
const me = (app: FastifyInstance, token: string) => app.inject({ url: '/users/me', headers: bearer(token) })
const sessionsOf = (app: FastifyInstance, token: string) => app.inject({ url: '/users/me/sessions', headers: bearer(token) })

t.test('refresh rotation', async (t) => {
  const app = await build(t)
  const user = await signUp(app)

  t.test('answers a new pair for the same session, with the current level; the old refresh token is spent', async (t) => {
    const first = await startSession(app, user.email, PASSWORD)
    const res = await refresh(app, first.refresh_token)
    t.equal(res.statusCode, 200)
    const body = res.json<TokenPair>()
    t.same(body, { token: body.token, refresh_token: body.refresh_token, expires_in: 3600, user: { id: user.id, email: user.email } })
    t.not(body.refresh_token, first.refresh_token)
    t.not(body.token, first.token)
    t.match(app.jwt.decode(body.token), { sid: first.sid, user_id: user.id, permission: 1 })
    t.equal((await me(app, first.token)).statusCode, 200, 'the earlier access token still works: same live session')
    t.equal((await me(app, body.token)).statusCode, 200)

    const replay = await refresh(app, first.refresh_token)
    t.equal(replay.statusCode, 401, 'a spent refresh token is a replay')
    t.same(replay.json(), REFRESH_REUSED)
    t.equal(replay.headers['www-authenticate'], 'Bearer error="invalid_token"')
    // The session ended at once: its newest tokens too.
    const newest = await me(app, body.token)
    t.equal(newest.statusCode, 401)
    t.same(newest.json(), REVOKED)
    t.equal(newest.headers['www-authenticate'], 'Bearer error="invalid_token"')
    t.same((await me(app, first.token)).json(), REVOKED)
    t.same((await refresh(app, body.refresh_token)).json(), REFRESH_INVALID, 'its unspent refresh token is now invalid')
    t.same((await refresh(app, first.refresh_token)).json(), REFRESH_INVALID, 'and the spent one, presented again, too')
  })

  t.test('an unknown refresh token is REFRESH_TOKEN_INVALID; a bad body is 400', async (t) => {
    const res = await refresh(app, 'not-a-refresh-token-anyone-was-given')
    t.equal(res.statusCode, 401)
    t.same(res.json(), REFRESH_INVALID)
    for (const payload of [{}, { refresh_token: '' }, { refresh_token: 5 }, { refresh_token: 'x', extra: 1 }]) {
      const bad = await app.inject({ method: 'POST', url: '/users/refresh', payload })
      t.equal(bad.statusCode, 400, JSON.stringify(payload))
      t.equal(bad.json().code, 'VALIDATION_ERROR')
    }
  })

  t.test('two refreshes racing with one token: exactly one succeeds, and the session then ends', async (t) => {
    for (let round = 0; round < 5; round++) {
      const pair = await startSession(app, user.email, PASSWORD)
      const [a, b] = await Promise.all([refresh(app, pair.refresh_token), refresh(app, pair.refresh_token)])
      const results = [a, b].sort((x, y) => x.statusCode - y.statusCode)
      t.same(results.map((r) => r.statusCode), [200, 401], `round ${round}: one 200, one 401`)
      t.same(results[1]?.json(), REFRESH_REUSED)
      const winner = results[0]?.json<TokenPair>()
      t.same((await me(app, winner?.token ?? '')).json(), REVOKED, 'the winner\'s access token belongs to the ended session')
      t.same((await refresh(app, winner?.refresh_token ?? '')).json(), REFRESH_INVALID)
      t.same((await me(app, pair.token)).json(), REVOKED)
    }
  })

  t.test('a refresh answers the level stored now', async (t) => {
    const other = await signUp(app)
    const pair = await startSession(app, other.email, PASSWORD)
    const admin = await startSession(app, ADMIN.email, ADMIN.password)
    await app.inject({ method: 'PATCH', url: `/users/${other.id}`, headers: bearer(admin.token), payload: { permission: 2 } })
    const res = await refresh(app, pair.refresh_token)
    t.match(app.jwt.decode(res.json<TokenPair>().token), { permission: 2 })
  })
})

t.test('a session lasts REFRESH_TOKEN_DAYS from sign-in, whatever refreshes happen', async (t) => {
  const app = await build(t, { refreshTokenDays: 3 / 86400 })
  const user = await signUp(app)
  const pair = await startSession(app, user.email, PASSWORD)
  const [listed] = (await sessionsOf(app, pair.token)).json<Array<{ created_at: string, expires_at: string }>>()
  t.equal(Date.parse(listed?.expires_at ?? '') - Date.parse(listed?.created_at ?? ''), 3000)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const renewed = await refresh(app, pair.refresh_token)
  t.equal(renewed.statusCode, 200)
  const [after] = (await sessionsOf(app, pair.token)).json<Array<{ expires_at: string, last_used_at: string }>>()
  t.equal(after?.expires_at, listed?.expires_at, 'a refresh does not extend it')
  t.ok(Date.parse(after?.last_used_at ?? '') >= Date.parse(listed?.created_at ?? '') + 1000, 'last_used_at is the refresh')
  await new Promise((resolve) => setTimeout(resolve, 2300))
  t.same((await me(app, renewed.json<TokenPair>().token)).json(), REVOKED, 'its access tokens end with it')
  t.same((await refresh(app, renewed.json<TokenPair>().refresh_token)).json(), REFRESH_INVALID, 'an expired session cannot be renewed')
})

t.test('sign-out, and ending one or every session', async (t) => {
  const app = await build(t)
  const user = await signUp(app)

  t.test('the sessions list: live ones, newest first, current marked', async (t) => {
    const older = await startSession(app, user.email, PASSWORD)
    const newer = await startSession(app, user.email, PASSWORD)
    const res = await sessionsOf(app, older.token)
    t.equal(res.statusCode, 200)
    const list = res.json<Array<Record<string, unknown>>>()
    const ours = list.filter((s) => s.id === older.sid || s.id === newer.sid)
    t.same(ours.map((s) => s.id), [newer.sid, older.sid], 'newest first')
    for (const s of ours) {
      t.same(Object.keys(s).sort(), ['created_at', 'current', 'expires_at', 'id', 'last_used_at'])
      t.match(s, { created_at: ISO_UTC, last_used_at: ISO_UTC, expires_at: ISO_UTC })
      t.equal(Date.parse(String(s.expires_at)) - Date.parse(String(s.created_at)), 30 * 24 * 3600 * 1000, 'REFRESH_TOKEN_DAYS, 30 by default')
    }
    t.same(list.filter((s) => s.current === true).map((s) => s.id), [older.sid], 'exactly the asking session is current')
  })

  t.test('POST /users/sign-out ends the token\'s own session only', async (t) => {
    const a = await startSession(app, user.email, PASSWORD)
    const b = await startSession(app, user.email, PASSWORD)
    const res = await app.inject({ method: 'POST', url: '/users/sign-out', headers: bearer(a.token) })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.same((await me(app, a.token)).json(), REVOKED)
    t.same((await refresh(app, a.refresh_token)).json(), REFRESH_INVALID)
    t.equal((await me(app, b.token)).statusCode, 200, 'another session of the same user lives on')
    t.notOk((await sessionsOf(app, b.token)).json<Array<{ id: string }>>().some((s) => s.id === a.sid), 'and no longer lists it')
    const again = await app.inject({ method: 'POST', url: '/users/sign-out', headers: bearer(a.token) })
    t.same(again.json(), REVOKED, 'signing out twice: the token is already revoked')
  })

  t.test('DELETE /users/me/sessions/:id ends one of the caller\'s own sessions; others\' and unknown ids are 404', async (t) => {
    const mine = await startSession(app, user.email, PASSWORD)
    const other = await startSession(app, user.email, PASSWORD)
    const stranger = await userWith(app, 1)
    const strangerSid = (await sessionsOf(app, stranger.token)).json<Array<{ id: string }>>()[0]?.id ?? ''

    const foreign = await app.inject({ method: 'DELETE', url: `/users/me/sessions/${strangerSid}`, headers: bearer(mine.token) })
    t.equal(foreign.statusCode, 404)
    t.same(foreign.json(), SESSION_NOT_FOUND)
    t.equal((await me(app, stranger.token)).statusCode, 200, 'the stranger\'s session is untouched')
    const unknown = await app.inject({ method: 'DELETE', url: '/users/me/sessions/0123456789abcdef0123456789abcdef', headers: bearer(mine.token) })
    t.same(unknown.json(), SESSION_NOT_FOUND)

    const res = await app.inject({ method: 'DELETE', url: `/users/me/sessions/${other.sid}`, headers: bearer(mine.token) })
    t.equal(res.statusCode, 204)
    t.same((await me(app, other.token)).json(), REVOKED)
    t.same((await refresh(app, other.refresh_token)).json(), REFRESH_INVALID)
    t.equal((await me(app, mine.token)).statusCode, 200)
    const twice = await app.inject({ method: 'DELETE', url: `/users/me/sessions/${other.sid}`, headers: bearer(mine.token) })
    t.same(twice.json(), SESSION_NOT_FOUND, 'an ended session is not found')
  })

  t.test('DELETE /users/me/sessions ends every session, this one too', async (t) => {
    const person = await signUp(app)
    const a = await startSession(app, person.email, PASSWORD)
    const b = await startSession(app, person.email, PASSWORD)
    const bystander = await startSession(app, user.email, PASSWORD)
    const res = await app.inject({ method: 'DELETE', url: '/users/me/sessions', headers: bearer(a.token) })
    t.equal(res.statusCode, 204)
    t.same((await me(app, a.token)).json(), REVOKED)
    t.same((await me(app, b.token)).json(), REVOKED)
    t.same((await refresh(app, b.refresh_token)).json(), REFRESH_INVALID)
    t.equal((await me(app, bystander.token)).statusCode, 200, 'other users keep theirs')
    const fresh = await startSession(app, person.email, PASSWORD)
    t.same((await sessionsOf(app, fresh.token)).json<Array<{ id: string }>>().map((s) => s.id), [fresh.sid], 'a new sign-in starts afresh')
  })
})

t.test('PUT /users/me/password', async (t) => {
  const app = await build(t, { signinMaxFailures: 3 })
  const change = (token: string, payload: unknown) =>
    app.inject({ method: 'PUT', url: '/users/me/password', headers: bearer(token), payload: payload as object })

  t.test('changes the password and ends every other session', async (t) => {
    const user = await signUp(app)
    const here = await startSession(app, user.email, PASSWORD)
    const elsewhere = await startSession(app, user.email, PASSWORD)
    const res = await change(here.token, { current_password: PASSWORD, new_password: 'a brand new passphrase' })
    t.equal(res.statusCode, 204)
    t.equal((await me(app, here.token)).statusCode, 200, 'this session stays')
    t.equal((await refresh(app, here.refresh_token)).statusCode, 200)
    t.same((await me(app, elsewhere.token)).json(), REVOKED, 'every other one ends')
    t.same((await refresh(app, elsewhere.refresh_token)).json(), REFRESH_INVALID)
    const old = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: PASSWORD } })
    t.same(old.json(), errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'Invalid email or password'))
    t.equal((await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: 'a brand new passphrase' } })).statusCode, 200)
  })

  t.test('the new password follows the sign-up rules', async (t) => {
    const user = await signUp(app)
    const pair = await startSession(app, user.email, PASSWORD)
    const common = await change(pair.token, { current_password: PASSWORD, new_password: 'password123' })
    t.equal(common.statusCode, 400)
    t.same(common.json(), errorBody(400, 'PASSWORD_TOO_COMMON', 'Bad Request', 'This password appears in a list of commonly breached passwords; choose another'))
    for (const payload of [{ current_password: PASSWORD, new_password: 'short' }, { current_password: PASSWORD, new_password: 'x'.repeat(129) },
      { current_password: PASSWORD }, { current_password: PASSWORD, new_password: 'a brand new passphrase', extra: true }]) {
      const res = await change(pair.token, payload)
      t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 60))
      t.equal(res.json().code, 'VALIDATION_ERROR')
    }
    t.equal((await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: PASSWORD } })).statusCode, 200, 'unchanged')
  })

  t.test('a wrong current password is 401 with a plain Bearer, and counts for the sign-in throttle', async (t) => {
    const user = await signUp(app)
    const pair = await startSession(app, user.email, PASSWORD)
    const wrong = await change(pair.token, { current_password: 'not the password', new_password: 'a brand new passphrase' })
    t.equal(wrong.statusCode, 401)
    t.same(wrong.json(), errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'The current password is not correct'))
    t.equal(wrong.headers['www-authenticate'], 'Bearer', 'the token itself is still good')
    t.equal((await me(app, pair.token)).statusCode, 200)
    await change(pair.token, { current_password: 'not the password', new_password: 'a brand new passphrase' })
    await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: 'wrong again' } })
    const throttled = await change(pair.token, { current_password: PASSWORD, new_password: 'a brand new passphrase' })
    t.equal(throttled.statusCode, 429, 'past the limit even the right password waits')
    t.same(throttled.json(), errorBody(429, 'TOO_MANY_SIGN_IN_FAILURES', 'Too Many Requests', 'Too many failed sign-ins for this email; try again later'))
    t.ok(Number(throttled.headers['retry-after']) > 0)
    const signIn = await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: PASSWORD } })
    t.equal(signIn.statusCode, 429, 'sign-in shares the count')
  })
})

t.test('current-level checks', async (t) => {
  const app = await build(t)
  const admin = await startSession(app, ADMIN.email, ADMIN.password)
  const adminId = admin.user.id
  const patch = (token: string, id: number, permission: number) =>
    app.inject({ method: 'PATCH', url: `/users/${id}`, headers: bearer(token), payload: { permission } })

  t.test('a promotion applies to the very next request with the old token', async (t) => {
    const user = await userWith(app, 1)
    t.equal((await app.inject({ method: 'POST', url: '/books', headers: bearer(user.token), payload: SAMPLE_BOOK })).statusCode, 403)
    await patch(admin.token, user.id, 2)
    t.equal((await app.inject({ method: 'POST', url: '/books', headers: bearer(user.token), payload: SAMPLE_BOOK })).statusCode, 201)
  })

  t.test('the demoted-Admin attack: a lowered Admin\'s old token lowers no one', async (t) => {
    const x = await signUp(app)
    t.equal((await patch(admin.token, x.id, 3)).statusCode, 200)
    const xs = await startSession(app, x.email, PASSWORD)
    t.equal((await patch(admin.token, x.id, 1)).statusCode, 200)
    const attack = await patch(xs.token, adminId, 1)
    t.equal(attack.statusCode, 403)
    t.same(attack.json(), errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized'))
    t.equal((await me(app, admin.token)).json().permission, 3, 'the bootstrap Admin is still an Admin')
    const mine = await me(app, xs.token)
    t.equal(mine.json().permission, 1, 'X is answered at the stored level')
  })
})

t.test('two Admins lowering each other at the same moment never leave none', async (t) => {
  for (let round = 0; round < 3; round++) {
    const app = await build(t)
    const a = await startSession(app, ADMIN.email, ADMIN.password)
    const other = await signUp(app)
    t.equal((await app.inject({ method: 'PATCH', url: `/users/${other.id}`, headers: bearer(a.token), payload: { permission: 3 } })).statusCode, 200)
    const b = await startSession(app, other.email, PASSWORD)
    const [ab, ba] = await Promise.all([
      app.inject({ method: 'PATCH', url: `/users/${other.id}`, headers: bearer(a.token), payload: { permission: 1 } }),
      app.inject({ method: 'PATCH', url: `/users/${a.user.id}`, headers: bearer(b.token), payload: { permission: 1 } })
    ])
    const statuses = [ab.statusCode, ba.statusCode].sort()
    t.ok(statuses[0] === 200 && (statuses[1] === 409 || statuses[1] === 403), `round ${round}: one lowering wins (${statuses.join(', ')})`)
    const loser = ab.statusCode === 200 ? ba : ab
    if (loser.statusCode === 409) t.same(loser.json(), errorBody(409, 'LAST_ADMIN', 'Conflict', 'The last Admin cannot be lowered'))
    const levels = await Promise.all([a.user.id, other.id].map(async (id) => (await app.stores.users.get(id))?.permission))
    t.equal(levels.filter((p) => p === 3).length, 1, `round ${round}: exactly one Admin left`)
    await app.close()
  }
})

t.test('GET /users and GET /users/:id (Admin)', async (t) => {
  const app = await build(t)
  const admin = await startSession(app, ADMIN.email, ADMIN.password)
  const tag = uniqueEmail('Find').split('@')[0] ?? ''
  const found = [await signUp(app, `${tag}-one@example.com`), await signUp(app, `${tag}-two@example.com`), await signUp(app, `${tag}-three@example.com`)]
  await signUp(app)
  const list = (query: string, token = admin.token) => app.inject({ url: `/users?${query}`, headers: bearer(token) })

  const res = await list(`q=${encodeURIComponent(tag.toUpperCase())}&limit=100`)
  t.equal(res.statusCode, 200)
  const body = res.json<Array<Record<string, unknown>>>()
  t.same(body.map((u) => u.id), found.map((u) => u.id), 'q is a case-insensitive substring of the email; by id')
  t.same(body[0], { id: found[0]?.id, email: found[0]?.email, permission: 1, created_at: body[0]?.created_at, email_verified: false, totp_enabled: false })
  t.same((await list(`q=${tag}&o=1&limit=1`)).json<Array<{ id: number }>>().map((u) => u.id), [found[1]?.id], 'o and limit page it')
  t.same((await list('q=%25')).json(), [], 'no pattern syntax: % is a plain character')
  t.equal((await list('')).json<unknown[]>().length, 5, 'limit defaults to PAGE_SIZE')
  t.equal((await list('limit=101')).statusCode, 400)

  const one = await app.inject({ url: `/users/${found[0]?.id ?? 0}`, headers: bearer(admin.token) })
  t.equal(one.statusCode, 200)
  t.same(one.json(), { id: found[0]?.id, email: found[0]?.email, permission: 1, created_at: one.json().created_at, email_verified: false, totp_enabled: false })
  const missing = await app.inject({ url: '/users/999999', headers: bearer(admin.token) })
  t.same(missing.json(), errorBody(404, 'USER_NOT_FOUND', 'Not Found', 'User not found'))

  const author = await userWith(app, 2)
  t.same((await list('', author.token)).json(), errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized'))
  t.equal((await app.inject({ url: `/users/${author.id}`, headers: bearer(author.token) })).statusCode, 403)
  t.equal((await app.inject({ url: '/users' })).statusCode, 401)
})

t.test('POST /users/refresh is rate-limited per address', async (t) => {
  const app = await build(t, { authRateLimit: 3 })
  for (let i = 0; i < 3; i++) t.equal((await refresh(app, `unknown-${i}`)).statusCode, 401)
  const limited = await refresh(app, 'unknown-4')
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: String })
  t.ok(Number(limited.headers['retry-after']) > 0)
})
