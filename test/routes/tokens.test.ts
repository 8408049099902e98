import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ADMIN, SAMPLE_BOOK, bearer, build, errorBody, forgeToken, kidOf, sidOf, signIn, signUp, startSession, userWith } from '../support/app'
import { SAMPLE_JWT_SECRET } from '../../config/schema'

/** The header the service signs with on the test configuration. */
const SIGNED = { alg: 'HS256', typ: 'JWT', kid: kidOf(SAMPLE_JWT_SECRET) }

const TOKEN_REQUIRED = errorBody(401, 'TOKEN_REQUIRED', 'Unauthorized', 'Token is required')
const UNDECODABLE = errorBody(401, 'TOKEN_INVALID', 'Unauthorized', 'failed to decode token')
const EXPIRED = errorBody(401, 'TOKEN_EXPIRED', 'Unauthorized', 'invalid token')

t.test("the original design's walkthrough", async (t) => {
  const app = await build(t)
  const user = await signUp(app, 'test-user@example.com', 'a fine long passphrase')
  t.match(user, { id: Number, email: 'test-user@example.com' })
  const userToken = await signIn(app, 'test-user@example.com', 'a fine long passphrase')
  const adminToken = await signIn(app, ADMIN.email, ADMIN.password)

  const created = await app.inject({ method: 'POST', url: '/books', headers: bearer(adminToken), payload: SAMPLE_BOOK })
  t.equal(created.statusCode, 201, 'an Admin creates a book')
  t.match(created.json(), { ...SAMPLE_BOOK, id: Number })

  const asUser = await app.inject({ method: 'POST', url: '/books', headers: bearer(userToken), payload: SAMPLE_BOOK })
  t.equal(asUser.statusCode, 403)
  t.same(asUser.json(), errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized'))

  const noToken = await app.inject({ method: 'POST', url: '/books', payload: SAMPLE_BOOK })
  t.equal(noToken.statusCode, 401)
  t.same(noToken.json(), TOKEN_REQUIRED)
  t.equal(noToken.headers['www-authenticate'], 'Bearer')

  const fake = await app.inject({ method: 'POST', url: '/books', headers: bearer('FAKE_TOKEN'), payload: SAMPLE_BOOK })
  t.equal(fake.statusCode, 401)
  t.same(fake.json(), UNDECODABLE)
  t.match(fake.headers['www-authenticate'], /^Bearer/)

  const now = Math.floor(Date.now() / 1000)
  const expired = forgeToken(SIGNED,
    { user_id: 1, user_name: ADMIN.email, permission: 3, iat: now - 7200, exp: now - 3600, jti: 'x', sid: sidOf(adminToken) }, SAMPLE_JWT_SECRET)
  const old = await app.inject({ method: 'POST', url: '/books', headers: bearer(expired), payload: SAMPLE_BOOK })
  t.equal(old.statusCode, 401)
  t.same(old.json(), EXPIRED)
})

t.test('forged and malformed tokens are all 401, never 5xx', async (t) => {
  const app = await build(t)
  const admin = await userWith(app, 3)
  const now = Math.floor(Date.now() / 1000)
  const claims = { user_id: admin.id, user_name: admin.email, permission: 3, iat: now, exp: now + 3600, jti: 'j', sid: sidOf(admin.token) }
  const HS256 = SIGNED
  t.equal((await app.inject({ method: 'POST', url: '/books', headers: bearer(forgeToken(HS256, claims, SAMPLE_JWT_SECRET)), payload: SAMPLE_BOOK })).statusCode,
    201, 'the same claims, rightly signed, pass: each case below fails for its one flaw')
  const before = (await app.inject({ url: '/books?limit=100' })).json<unknown[]>().length
  const [head, payload, signature] = admin.token.split('.') as [string, string, string]
  const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), permission: 3, user_id: 1 })).toString('base64url')

  const cases: Array<[string, string]> = [
    ['alg none', forgeToken({ ...SIGNED, alg: 'none' }, claims, null)],
    ['alg NONE', forgeToken({ ...SIGNED, alg: 'NONE' }, claims, null)],
    ['alg none with a signature', `${forgeToken({ alg: 'none', kid: SIGNED.kid }, claims, null)}c2ln`],
    ['alg missing', forgeToken({ typ: 'JWT', kid: SIGNED.kid }, claims, SAMPLE_JWT_SECRET)],
    ['alg RS256', forgeToken({ ...SIGNED, alg: 'RS256' }, claims, SAMPLE_JWT_SECRET)],
    ['HS512 with the right secret', forgeToken({ ...SIGNED, alg: 'HS512' }, claims, SAMPLE_JWT_SECRET, 'sha512')],
    ['no kid', forgeToken({ alg: 'HS256', typ: 'JWT' }, claims, SAMPLE_JWT_SECRET)],
    ['a kid naming no configured key', forgeToken({ ...SIGNED, kid: '0123456789abcdef' }, claims, SAMPLE_JWT_SECRET)],
    ['a numeric kid', forgeToken({ ...SIGNED, kid: 1 }, claims, SAMPLE_JWT_SECRET)],
    ['a foreign secret under its own kid', forgeToken({ ...SIGNED, kid: kidOf('another-secret-of-at-least-thirty-two-bytes!') }, claims, 'another-secret-of-at-least-thirty-two-bytes!')],
    ['no sid', forgeToken(HS256, { ...claims, sid: undefined }, SAMPLE_JWT_SECRET)],
    ['a numeric sid', forgeToken(HS256, { ...claims, sid: 7 }, SAMPLE_JWT_SECRET)],
    ['iat an hour ahead', forgeToken(HS256, { ...claims, iat: now + 3600, exp: now + 7200 }, SAMPLE_JWT_SECRET)],
    ['iat 10 s ahead', forgeToken(HS256, { ...claims, iat: now + 10 }, SAMPLE_JWT_SECRET)],
    ['a foreign secret', forgeToken(HS256, claims, 'another-secret-of-at-least-thirty-two-bytes!')],
    ['a tampered claim', `${head}.${tamperedPayload}.${signature}`],
    ['a truncated signature', `${head}.${payload}.${signature.slice(0, -4)}`],
    ['no exp', forgeToken(HS256, { ...claims, exp: undefined }, SAMPLE_JWT_SECRET)],
    ['no iat', forgeToken(HS256, { ...claims, iat: undefined }, SAMPLE_JWT_SECRET)],
    ['a string exp', forgeToken(HS256, { ...claims, exp: String(now + 3600) }, SAMPLE_JWT_SECRET)],
    ['nbf in the future', forgeToken(HS256, { ...claims, nbf: now + 3600 }, SAMPLE_JWT_SECRET)],
    ['an array payload', forgeToken(HS256, [claims], SAMPLE_JWT_SECRET)],
    ['a string payload', forgeToken(HS256, 'hello', SAMPLE_JWT_SECRET)],
    ['a header that is not JSON', `bm90IGpzb24.${payload}.${signature}`],
    ['two parts', `${head}.${payload}`],
    ['four parts', `${admin.token}.extra`],
    ['a string permission', forgeToken(HS256, { ...claims, permission: '3' }, SAMPLE_JWT_SECRET)],
    ['a permission out of range', forgeToken(HS256, { ...claims, permission: 9 }, SAMPLE_JWT_SECRET)],
    ['no user_id', forgeToken(HS256, { ...claims, user_id: undefined }, SAMPLE_JWT_SECRET)],
    ['non-ASCII garbage', 'ünïcødé.ünïcødé.ünïcødé']
  ]
  for (const [what, token] of cases) {
    const res = await app.inject({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })
    t.equal(res.statusCode, 401, what)
    t.same(res.json(), UNDECODABLE, what)
  }
  t.equal((await app.inject({ url: '/books?limit=100' })).json<unknown[]>().length, before, 'none of them wrote anything')
})

t.test('header forms', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const post = (authorization: string) => app.inject({ method: 'POST', url: '/books', headers: { authorization }, payload: SAMPLE_BOOK })
  t.equal((await post(`bearer ${author.token}`)).statusCode, 201, 'the scheme is case-insensitive')
  t.equal((await post(`BEARER   ${author.token}`)).statusCode, 201)
  t.same((await post('Bearer ')).json(), TOKEN_REQUIRED, 'an empty bearer is a missing token')
  t.same((await post(`Basic ${Buffer.from('a:b').toString('base64')}`)).json(), TOKEN_REQUIRED, 'another scheme carries no token')
  t.same((await post(author.token)).json(), TOKEN_REQUIRED, 'a bare token without the scheme')
  t.same((await post(`Bearer ${author.token} trailing`)).json(), UNDECODABLE)
})

t.test('tokens within the allowed clock skew pass; a level below the route is 403', async (t) => {
  const app = await build(t)
  const now = Math.floor(Date.now() / 1000)
  const author = await userWith(app, 2)
  const claims = { user_id: author.id, user_name: author.email, permission: 2, jti: 'j', sid: sidOf(author.token) }
  const skewed = forgeToken(SIGNED, { ...claims, iat: now - 3600, exp: now - 2 }, SAMPLE_JWT_SECRET)
  t.equal((await app.inject({ method: 'POST', url: '/books', headers: bearer(skewed), payload: SAMPLE_BOOK })).statusCode, 201,
    'expired 2 s ago is within the tolerance')
  const early = forgeToken(SIGNED, { ...claims, iat: now + 3, exp: now + 3600 }, SAMPLE_JWT_SECRET)
  t.equal((await app.inject({ method: 'POST', url: '/books', headers: bearer(early), payload: SAMPLE_BOOK })).statusCode, 201,
    'an iat 3 s ahead is within the tolerance')
  const user = await userWith(app, 1)
  const res = await app.inject({ method: 'DELETE', url: '/books/1', headers: bearer(user.token) })
  t.equal(res.statusCode, 403)
})

t.test('ACCESS_TOKEN_MINUTES sets the lifetime and expires_in', async (t) => {
  const app = await build(t, { accessTokenMinutes: 2 })
  const user = await signUp(app)
  const pair = await startSession(app, user.email, user.password)
  const claims = app.jwt.decode<{ iat: number, exp: number }>(pair.token)
  t.equal((claims?.exp ?? 0) - (claims?.iat ?? 0), 120)
  t.equal(pair.expires_in, 120)
})

t.test('every token names its key by kid and its session by sid', async (t) => {
  const app = await build(t)
  const user = await signUp(app)
  const pair = await startSession(app, user.email, user.password)
  const header = JSON.parse(Buffer.from(pair.token.split('.')[0] ?? '', 'base64url').toString()) as Record<string, unknown>
  t.same(header, { alg: 'HS256', typ: 'JWT', kid: kidOf(SAMPLE_JWT_SECRET) })
  t.match(kidOf(SAMPLE_JWT_SECRET), /^[0-9a-f]{16}$/)
  t.notMatch(pair.token, new RegExp(Buffer.from(SAMPLE_JWT_SECRET).toString('base64url').slice(0, 12)), 'the secret is nowhere in the token')
  const refreshed = await app.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: pair.refresh_token } })
  const again = refreshed.json<{ token: string }>().token
  t.equal(JSON.parse(Buffer.from(again.split('.')[0] ?? '', 'base64url').toString()).kid, kidOf(SAMPLE_JWT_SECRET))
  t.equal(sidOf(again), pair.sid, 'a refresh keeps the session')
})

t.test('signing-key rotation: the previous secret still verifies, chosen by kid', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-rotation-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const OLD = 'the-old-signing-secret-of-at-least-32-bytes'
  const NEW = 'the-new-signing-secret-of-at-least-32-bytes'
  // One database for all three, as one deployment before and after the rotation.
  const databaseUrl = `sqlite:${path.join(dir, 'rotation.db')}`
  const before = await build(t, { databaseUrl, jwtSecret: OLD })
  const author = await userWith(before, 2)
  const pair = await startSession(before, author.email, 'a fine long passphrase')
  await before.close()

  const during = await build(t, { databaseUrl, jwtSecret: NEW, jwtPreviousSecrets: [OLD] })
  const post = (app: typeof during, token: string) => app.inject({ method: 'POST', url: '/books', headers: bearer(token), payload: SAMPLE_BOOK })
  t.equal((await post(during, author.token)).statusCode, 201, 'a token signed with the previous secret passes')
  const refreshed = await during.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: pair.refresh_token } })
  t.equal(refreshed.statusCode, 200, 'a refresh token from before the rotation renews')
  const renewed = refreshed.json<{ token: string }>().token
  t.equal(JSON.parse(Buffer.from(renewed.split('.')[0] ?? '', 'base64url').toString()).kid, kidOf(NEW), 'new tokens are signed with the new secret')
  t.equal((await post(during, renewed)).statusCode, 201)
  const now = Math.floor(Date.now() / 1000)
  const claims = { user_id: author.id, user_name: author.email, permission: 2, jti: 'j', sid: sidOf(author.token), iat: now, exp: now + 600 }
  const oldUnderNewKid = forgeToken({ alg: 'HS256', typ: 'JWT', kid: kidOf(NEW) }, claims, OLD)
  t.same((await post(during, oldUnderNewKid)).json(), UNDECODABLE, 'each kid selects exactly one key: no trying the others')
  await during.close()

  const after = await build(t, { databaseUrl, jwtSecret: NEW })
  const res = await post(after, author.token)
  t.equal(res.statusCode, 401, 'once the old secret is removed, its tokens are refused')
  t.same(res.json(), UNDECODABLE)
  t.equal((await post(after, renewed)).statusCode, 201)
})
