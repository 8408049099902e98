import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { acceptsApiKeys } from '../../plugins/app/auth'
import { Permission } from '../../src/domain/permission'
import type { ApiKey, CreatedApiKey } from '../../src/schemas/api-key'
import type { AuditEvent } from '../../src/schemas/audit'
import { apiKeyHash } from '../../src/services/api-keys'
import { ADMIN, SAMPLE_BOOK, bearer, build, errorBody, signIn, signUp, userWith } from '../support/app'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const KEY = /^bsk_[A-Za-z0-9_-]{43,}$/
const DAY = 24 * 3600 * 1000
const FORBIDDEN = errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized')
const INVALID = errorBody(401, 'API_KEY_INVALID', 'Unauthorized', 'invalid token')
const NOT_FOUND = errorBody(404, 'API_KEY_NOT_FOUND', 'Not Found', 'API key not found')
const TOO_MANY = errorBody(409, 'TOO_MANY_API_KEYS', 'Conflict', 'A user may hold at most 20 live API keys; revoke one first')

const createKey = (app: FastifyInstance, token: string, payload: unknown = { name: 'script' }) =>
  app.inject({ method: 'POST', url: '/users/me/api-keys', headers: bearer(token), payload: payload as Record<string, unknown> })
async function newKey (app: FastifyInstance, token: string, payload: Record<string, unknown> = { name: 'script' }): Promise<CreatedApiKey> {
  const res = await createKey(app, token, payload)
  if (res.statusCode !== 201) throw new Error(`key creation failed: ${res.statusCode} ${res.body}`)
  return res.json<CreatedApiKey>()
}
const listKeys = (app: FastifyInstance, token: string) => app.inject({ url: '/users/me/api-keys', headers: bearer(token) })
const revokeKey = (app: FastifyInstance, token: string, id: string) =>
  app.inject({ method: 'DELETE', url: `/users/me/api-keys/${id}`, headers: bearer(token) })
const me = (app: FastifyInstance, credential: string) => app.inject({ url: '/users/me', headers: bearer(credential) })
const addBook = (app: FastifyInstance, credential: string) => app.inject({ method: 'POST', url: '/books', headers: bearer(credential), payload: SAMPLE_BOOK })

function assertInvalid (t: Test, res: LightMyRequestResponse, what: string): void {
  t.equal(res.statusCode, 401, what)
  t.same(res.json(), INVALID, what)
  t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', what)
}

async function auditOf (app: FastifyInstance, type: string, userId: number): Promise<AuditEvent[]> {
  const admin = await signIn(app, ADMIN.email, ADMIN.password)
  const res = await app.inject({ url: `/audit-events?type=${type}&user_id=${userId}&limit=100`, headers: bearer(admin) })
  return res.json<AuditEvent[]>()
}

t.test('creating, listing and revoking keys', async (t) => {
  const app = await build(t)
  const author = await userWith(app, Permission.Author)

  t.test('201 with the key once, the caller\'s level and 90 days by default, Location; listed without the key', async (t) => {
    const before = Date.now()
    const res = await createKey(app, author.token, { name: 'nightly import' })
    t.equal(res.statusCode, 201)
    const body = res.json<CreatedApiKey>()
    t.same(body, { id: body.id, name: 'nightly import', key: body.key, permission: Permission.Author, created_at: body.created_at, expires_at: body.expires_at, last_used_at: null })
    t.match(body.key, KEY)
    t.ok(Buffer.from(body.key.slice(4), 'base64url').length >= 32, 'at least 256 random bits')
    t.match(body.created_at, ISO_UTC)
    t.equal(res.headers.location, `/users/me/api-keys/${body.id}`)
    const lifetime = Date.parse(body.expires_at) - Date.parse(body.created_at)
    t.equal(lifetime, 90 * DAY)
    t.ok(Date.parse(body.created_at) >= before - 1000)

    const listed = await listKeys(app, author.token)
    t.equal(listed.statusCode, 200)
    const keys = listed.json<ApiKey[]>()
    const { key: _key, ...withoutKey } = body
    t.same(keys.find((k) => k.id === body.id), withoutKey)
    t.notOk(listed.body.includes(body.key), 'the key is never listed')
    t.notOk(listed.body.includes(apiKeyHash(body.key)), 'nor its digest')

    const events = await auditOf(app, 'api_key.created', author.id)
    t.match(events[0], { type: 'api_key.created', user_id: author.id, actor_id: author.id, details: { id: body.id, permission: Permission.Author, expires_at: body.expires_at } })
    t.notOk(JSON.stringify(events).includes(body.key))
  })

  t.test('a lower permission and a lifetime may be asked for; a higher one is 403 FORBIDDEN', async (t) => {
    const key = await newKey(app, author.token, { name: 'reader', permission: 1, expires_in_days: 1 })
    t.equal(key.permission, 1)
    t.equal(Date.parse(key.expires_at) - Date.parse(key.created_at), DAY)
    const res = await createKey(app, author.token, { name: 'too high', permission: 3 })
    t.equal(res.statusCode, 403)
    t.same(res.json(), FORBIDDEN)
  })

  t.test('bad bodies are 400 VALIDATION_ERROR', async (t) => {
    for (const payload of [{}, { name: '' }, { name: 'x'.repeat(101) }, { name: 'a', permission: 0 }, { name: 'a', permission: 4 },
      { name: 'a', permission: 1.5 }, { name: 'a', expires_in_days: 0 }, { name: 'a', expires_in_days: 366 }, { name: 'a', extra: 1 }, { name: 5 }]) {
      const res = await createKey(app, author.token, payload)
      t.equal(res.statusCode, 400, JSON.stringify(payload))
      t.equal(res.json().code, 'VALIDATION_ERROR')
    }
    t.equal((await createKey(app, author.token, { name: 'x'.repeat(100), expires_in_days: 365 })).statusCode, 201, 'the bounds themselves')
  })

  t.test('no token is 401; another user\'s or an unknown key is 404 API_KEY_NOT_FOUND, and DELETE is 204 once', async (t) => {
    t.equal((await app.inject({ url: '/users/me/api-keys' })).json().code, 'TOKEN_REQUIRED')
    const other = await userWith(app, Permission.User)
    const key = await newKey(app, author.token)
    const res = await revokeKey(app, other.token, key.id)
    t.equal(res.statusCode, 404)
    t.same(res.json(), NOT_FOUND)
    t.same((await revokeKey(app, author.token, 'f'.repeat(32))).json(), NOT_FOUND)
    t.equal((await me(app, key.key)).statusCode, 200, 'another user\'s attempt left it working')
    const revoked = await revokeKey(app, author.token, key.id)
    t.equal(revoked.statusCode, 204)
    t.equal(revoked.body, '')
    t.same((await revokeKey(app, author.token, key.id)).json(), NOT_FOUND, 'revoked already')
    assertInvalid(t, await me(app, key.key), 'refused from the next request on')
    t.notOk((await listKeys(app, author.token)).json<ApiKey[]>().some((k) => k.id === key.id), 'no longer listed')
    t.match((await auditOf(app, 'api_key.revoked', author.id))[0], { type: 'api_key.revoked', user_id: author.id, actor_id: author.id, details: { id: key.id } })
  })

  t.test('at most 20 live keys: the 21st is 409 TOO_MANY_API_KEYS; revoking one makes room', async (t) => {
    const user = await userWith(app, Permission.User)
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => createKey(app, user.token, { name: `k${i}` })))
    t.same(made.map((r) => r.statusCode), Array(20).fill(201))
    const res = await createKey(app, user.token)
    t.equal(res.statusCode, 409)
    t.same(res.json(), TOO_MANY)
    t.equal((await revokeKey(app, user.token, made[0]!.json<CreatedApiKey>().id)).statusCode, 204)
    t.equal((await createKey(app, user.token)).statusCode, 201)
    // Concurrent creations past the cap: the user's row lock lets exactly the room left through.
    const burst = await Promise.all(Array.from({ length: 5 }, () => createKey(app, user.token)))
    t.same(burst.map((r) => r.statusCode), Array(5).fill(409))
  })
})

t.test('a key acts as its user', async (t) => {
  const app = await build(t)

  t.test('with the lower of its permission and the user\'s current level', async (t) => {
    const author = await userWith(app, Permission.Author)
    const reader = await newKey(app, author.token, { name: 'reader', permission: 1 })
    const writer = await newKey(app, author.token, { name: 'writer', permission: 2 })
    const denied = await addBook(app, reader.key)
    t.equal(denied.statusCode, 403)
    t.same(denied.json(), FORBIDDEN)
    t.equal((await addBook(app, writer.key)).statusCode, 201, 'an Author key of an Author')

    const meRes = await me(app, writer.key)
    t.equal(meRes.statusCode, 200, 'GET /users/me itself answers a key')
    t.same(meRes.json(), { id: author.id, email: author.email, permission: Permission.Author, created_at: meRes.json().created_at, email_verified: false, totp_enabled: false })

    const admin = await signIn(app, ADMIN.email, ADMIN.password)
    t.equal((await app.inject({ method: 'PATCH', url: `/users/${author.id}`, headers: bearer(admin), payload: { permission: 1 } })).statusCode, 200)
    const after = await addBook(app, writer.key)
    t.equal(after.statusCode, 403, 'the user was lowered: so is the key, from the next request on')
    t.same(after.json(), FORBIDDEN)
    t.equal((await app.inject({ method: 'PATCH', url: `/users/${author.id}`, headers: bearer(admin), payload: { permission: 3 } })).statusCode, 200)
    t.equal((await addBook(app, writer.key)).statusCode, 201, 'raised again: the key stays at its own permission')
    const adminOnly = await app.inject({ url: '/audit-events', headers: bearer(writer.key) })
    t.equal(adminOnly.statusCode, 403, 'an Author key of an Admin is an Author')
  })

  t.test('refused (403 FORBIDDEN) on the account\'s own routes and sign-out', async (t) => {
    const user = await signUp(app)
    const token = await signIn(app, user.email, user.password)
    const { key } = await newKey(app, token)
    const refused: Array<[string, string, Record<string, unknown>?]> = [
      ['GET', '/users/me/sessions'], ['DELETE', '/users/me/sessions'], ['DELETE', '/users/me/sessions/abc'],
      ['PUT', '/users/me/password', { current_password: user.password, new_password: 'another long passphrase' }],
      ['POST', '/users/me/email', { password: user.password, new_email: 'x@example.com' }], ['POST', '/users/me/verify-email'],
      ['GET', '/users/me/export'], ['DELETE', '/users/me', { password: user.password }],
      ['GET', '/users/me/api-keys'], ['POST', '/users/me/api-keys', { name: 'another' }], ['DELETE', '/users/me/api-keys/abc'],
      ['POST', '/users/sign-out']
    ]
    for (const [method, url, payload] of refused) {
      const res = await app.inject({ method: method as 'GET', url, headers: bearer(key), ...(payload === undefined ? {} : { payload }) })
      t.equal(res.statusCode, 403, `${method} ${url}`)
      t.same(res.json(), FORBIDDEN, `${method} ${url}`)
    }
    t.equal((await me(app, token)).statusCode, 200, 'the account is untouched: the session still works')
    t.equal((await me(app, key)).statusCode, 200)
    t.equal((await listKeys(app, token)).json<ApiKey[]>().length, 1, 'no key was made by a key')
  })

  t.test('unknown, malformed and expired keys are 401 API_KEY_INVALID', async (t) => {
    const user = await userWith(app, Permission.User)
    assertInvalid(t, await me(app, `bsk_${'A'.repeat(43)}`), 'unknown')
    assertInvalid(t, await me(app, 'bsk_'), 'only the prefix')
    // Expired: stored with an expiry just past, as time would leave it.
    const key = 'bsk_expired-key-for-the-test-0123456789abcdefghijkl'
    const now = new Date().toISOString()
    await app.stores.apiKeys.create({ id: 'e'.repeat(32), user_id: user.id, key_hash: apiKeyHash(key), name: 'old', permission: 1, now, expires_at: new Date(Date.now() - 1000).toISOString() })
    assertInvalid(t, await me(app, key), 'expired')
    t.notOk((await listKeys(app, user.token)).json<ApiKey[]>().some((k) => k.id === 'e'.repeat(32)), 'an expired key is not listed')
  })

  t.test('deleting the user revokes their keys; the export lists them', async (t) => {
    const user = await signUp(app)
    const token = await signIn(app, user.email, user.password)
    const key = await newKey(app, token, { name: 'exported' })
    t.equal((await me(app, key.key)).statusCode, 200)
    const exported = await app.inject({ url: '/users/me/export', headers: bearer(token) })
    t.equal(exported.statusCode, 200)
    const { key: _key, ...listed } = key
    t.same(exported.json().api_keys, [{ ...listed, last_used_at: exported.json().api_keys[0].last_used_at }])
    t.notOk(exported.body.includes(key.key))
    t.equal((await app.inject({ method: 'DELETE', url: '/users/me', headers: bearer(token), payload: { password: user.password } })).statusCode, 204)
    assertInvalid(t, await me(app, key.key), 'after the deletion')
  })

  t.test('last_used_at is written at most once a minute', async (t) => {
    const user = await userWith(app, Permission.User)
    const key = await newKey(app, user.token)
    const store = app.stores.apiKeys
    const touch = store.touch
    let updates = 0
    store.touch = async (...args) => { updates++; return touch(...args) }
    t.teardown(() => { store.touch = touch })
    for (let i = 0; i < 10; i++) t.equal((await me(app, key.key)).statusCode, 200)
    t.equal(updates, 1, 'ten requests, one UPDATE')
    const listed = (await listKeys(app, user.token)).json<ApiKey[]>().find((k) => k.id === key.id)
    t.match(listed?.last_used_at, ISO_UTC)
  })

  t.test('a public route does not look at the key: a cached GET /books/:id costs no key lookup', async (t) => {
    const user = await userWith(app, Permission.User)
    const key = await newKey(app, user.token)
    const admin = await signIn(app, ADMIN.email, ADMIN.password)
    const book = (await addBook(app, admin)).json<{ id: number }>()
    const store = app.stores.apiKeys
    const { lookup, touch } = store
    let reads = 0
    store.lookup = async (...args) => { reads++; return lookup(...args) }
    store.touch = async (...args) => { reads++; return touch(...args) }
    t.teardown(() => { store.lookup = lookup; store.touch = touch })
    for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: `/books/${book.id}`, headers: bearer(key.key) })).statusCode, 200)
    t.equal((await app.inject({ url: `/books/${book.id}`, headers: bearer('bsk_not-a-key') })).statusCode, 200, 'as with a token: a public route takes no credential')
    t.equal(reads, 0, 'no key query')
  })
})

t.test('each key may make API_KEY_RATE_LIMIT requests a minute', async (t) => {
  const app = await build(t, { apiKeyRateLimit: 3 })
  const user = await userWith(app, Permission.User)
  const first = await newKey(app, user.token)
  const second = await newKey(app, user.token)
  for (let i = 0; i < 3; i++) t.equal((await me(app, first.key)).statusCode, 200)
  const res = await me(app, first.key)
  t.equal(res.statusCode, 429)
  const retry = Number(res.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
  t.same(res.json(), errorBody(429, 'RATE_LIMITED', 'Too Many Requests', `Too many requests; retry in ${retry} seconds`))
  t.equal((await me(app, second.key)).statusCode, 200, 'per key: another key of the user is not limited')
  t.equal((await me(app, user.token)).statusCode, 200, 'nor the user\'s session')
})

t.test('acceptsApiKeys: the contract\'s rule by path', async (t) => {
  for (const [method, url, admitted] of [
    ['GET', '/users/me', true], ['HEAD', '/users/me', true], ['DELETE', '/users/me', false], ['GET', '/users/me/', true],
    ['GET', '/users/me/sessions', false], ['POST', '/users/me/totp', false], ['GET', '/users/me/passkeys', false],
    ['GET', '/users/me/api-keys', false], ['POST', '/users/sign-out', false],
    ['POST', '/books', true], ['PATCH', '/users/:id', true], ['GET', '/users/:id', true], ['GET', '/audit-events', true], ['POST', '/reviews', true],
    ['GET', '/users/meta', true]
  ] as const) {
    t.equal(acceptsApiKeys(method, url), admitted, `${method} ${url}`)
  }
})

t.test('with REQUIRE_VERIFIED_EMAIL, a key of an unverified user is held to the same rule as its sessions', async (t) => {
  const app = await build(t, { requireVerifiedEmail: true })
  const user = await signUp(app)
  // Stored directly: POST /users/me/api-keys itself needs a verified address in this mode.
  const key = 'bsk_unverified-user-key-for-the-test-0123456789abcdef'
  const now = new Date().toISOString()
  await app.stores.apiKeys.create({ id: 'u'.repeat(32), user_id: user.id, key_hash: apiKeyHash(key), name: 'unverified', permission: 1, now, expires_at: new Date(Date.now() + DAY).toISOString() })
  t.equal((await me(app, key)).statusCode, 200, 'GET /users/me is open to the unverified')
  const res = await app.inject({ method: 'POST', url: '/reviews', headers: bearer(key), payload: {} })
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'EMAIL_NOT_VERIFIED')
})
