import t from 'tap'
import { ADMIN, SAMPLE_BOOK, bearer, build, errorBody, forgeToken, signIn, signUp, userWith } from '../helper'
import { SAMPLE_JWT_SECRET } from '../../config/schema'

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
  const expired = forgeToken({ alg: 'HS256', typ: 'JWT' },
    { user_id: 1, user_name: ADMIN.email, permission: 3, iat: now - 7200, exp: now - 3600, jti: 'x' }, SAMPLE_JWT_SECRET)
  const old = await app.inject({ method: 'POST', url: '/books', headers: bearer(expired), payload: SAMPLE_BOOK })
  t.equal(old.statusCode, 401)
  t.same(old.json(), EXPIRED)
})

t.test('forged and malformed tokens are all 401, never 5xx', async (t) => {
  const app = await build(t)
  const admin = await userWith(app, 3)
  const now = Math.floor(Date.now() / 1000)
  const claims = { user_id: admin.id, user_name: admin.email, permission: 3, iat: now, exp: now + 3600, jti: 'j' }
  const HS256 = { alg: 'HS256', typ: 'JWT' }
  const [head, payload, signature] = admin.token.split('.') as [string, string, string]
  const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), permission: 3, user_id: 1 })).toString('base64url')

  const cases: Array<[string, string]> = [
    ['alg none', forgeToken({ alg: 'none', typ: 'JWT' }, claims, null)],
    ['alg NONE', forgeToken({ alg: 'NONE', typ: 'JWT' }, claims, null)],
    ['alg none with a signature', `${forgeToken({ alg: 'none' }, claims, null)}c2ln`],
    ['alg missing', forgeToken({ typ: 'JWT' }, claims, SAMPLE_JWT_SECRET)],
    ['alg RS256', forgeToken({ alg: 'RS256', typ: 'JWT' }, claims, SAMPLE_JWT_SECRET)],
    ['HS512 with the right secret', forgeToken({ alg: 'HS512', typ: 'JWT' }, claims, SAMPLE_JWT_SECRET, 'sha512')],
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
  t.same((await app.inject({ url: '/books' })).json(), [], 'none of them wrote anything')
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
  const skewed = forgeToken({ alg: 'HS256', typ: 'JWT' },
    { user_id: author.id, user_name: author.email, permission: 2, iat: now - 3600, exp: now - 2, jti: 'j' }, SAMPLE_JWT_SECRET)
  t.equal((await app.inject({ method: 'POST', url: '/books', headers: bearer(skewed), payload: SAMPLE_BOOK })).statusCode, 201,
    'expired 2 s ago is within the tolerance')
  const user = await userWith(app, 1)
  const res = await app.inject({ method: 'DELETE', url: '/books/1', headers: bearer(user.token) })
  t.equal(res.statusCode, 403)
})

t.test('TOKEN_HOURS sets the lifetime', async (t) => {
  const app = await build(t, { tokenHours: 2 })
  const user = await signUp(app)
  const claims = app.jwt.decode<{ iat: number, exp: number }>(await signIn(app, user.email, user.password))
  t.equal((claims?.exp ?? 0) - (claims?.iat ?? 0), 7200)
})
