import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import { Cluster } from 'ioredis'
import { MongoClient } from 'mongodb'
import { generate } from 'otplib'
import t from 'tap'
import { sharedRedis } from '../../plugins/external/redis'
import type { Review } from '../../src/schemas/review'
import type { Session } from '../../src/schemas/session'
import { ADMIN, REAL_BACKENDS, SAMPLE_BOOK, bearer, build, errorBody, signUp, startSession, uniqueEmail, userWith } from '../support/app'

const PASSWORD = 'a fine long passphrase'
const REVOKED = errorBody(401, 'TOKEN_REVOKED', 'Unauthorized', 'invalid token')
const REQUIRED = errorBody(401, 'TOKEN_REQUIRED', 'Unauthorized', 'Token is required')
const FORBIDDEN = errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized')
const WRONG_PASSWORD = errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'The current password is not correct')
const THROTTLED = errorBody(429, 'TOO_MANY_SIGN_IN_FAILURES', 'Too Many Requests', 'Too many failed sign-ins for this email; try again later')
const LAST_ADMIN = errorBody(409, 'LAST_ADMIN', 'Conflict', 'The last Admin cannot be deleted')
const USER_NOT_FOUND = errorBody(404, 'USER_NOT_FOUND', 'Not Found', 'User not found')
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

const me = (app: FastifyInstance, token: string) => app.inject({ url: '/users/me', headers: bearer(token) })
const exportOf = (app: FastifyInstance, token: string) => app.inject({ url: '/users/me/export', headers: bearer(token) })
const deleteMe = (app: FastifyInstance, token: string, payload: unknown = { password: PASSWORD }) =>
  app.inject({ method: 'DELETE', url: '/users/me', headers: bearer(token), payload: payload as object })
const deleteUser = (app: FastifyInstance, token: string | undefined, id: number | string) =>
  app.inject({ method: 'DELETE', url: `/users/${id}`, headers: token === undefined ? {} : bearer(token) })
const signInWith = (app: FastifyInstance, email: string, password: string) =>
  app.inject({ method: 'POST', url: '/users/sign-in', payload: { email, password } })

async function newBook (app: FastifyInstance): Promise<number> {
  const admin = await startSession(app, ADMIN.email, ADMIN.password)
  const res = await app.inject({ method: 'POST', url: '/books', headers: bearer(admin.token), payload: SAMPLE_BOOK })
  if (res.statusCode !== 201) throw new Error(`book: ${res.statusCode} ${res.body}`)
  return res.json<{ id: number }>().id
}

async function review (app: FastifyInstance, token: string, bookId: number, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await app.inject({ method: 'POST', url: '/reviews', headers: { ...bearer(token), ...headers }, payload: { book_id: bookId, title: 'A title', content: 'Some content', ...extra } })
  if (res.statusCode !== 201) throw new Error(`review: ${res.statusCode} ${res.body}`)
  return res
}

async function idOfAdmin (app: FastifyInstance, token: string): Promise<number> {
  return (await me(app, token)).json<{ id: number }>().id
}

t.test('GET /users/me/export', async (t) => {
  const app = await build(t)
  const bookId = await newBook(app)

  t.test('answers the user, its live sessions, every review it wrote, and empty key and passkey lists, as an attachment', async (t) => {
    const user = await signUp(app)
    const older = await startSession(app, user.email, PASSWORD)
    const current = await startSession(app, user.email, PASSWORD)
    const first = (await review(app, current.token, bookId)).json<Review>()
    await new Promise((resolve) => setTimeout(resolve, 5))
    const second = (await review(app, older.token, bookId, { author: 'A. Reader' })).json<Review>()
    const someoneElse = await userWith(app, 1)
    await review(app, someoneElse.token, bookId)

    const res = await exportOf(app, current.token)
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-disposition'], 'attachment; filename="bookstore-export.json"')
    t.match(res.headers['content-type'], /^application\/json/)
    const body = res.json<{ user: unknown, sessions: Session[], reviews: Review[] }>()
    t.same(body, {
      user: (await me(app, current.token)).json(),
      sessions: (await app.inject({ url: '/users/me/sessions', headers: bearer(current.token) })).json(),
      reviews: [second, first],
      api_keys: [],
      passkeys: []
    })
    t.same(body.sessions.map((s) => [s.id, s.current]), [[current.sid, true], [older.sid, false]])
    t.equal(first.author, user.email, 'a review without a name carries the address, and is exported as written')
  })

  t.test('an account with nothing yet', async (t) => {
    const user = await userWith(app, 1)
    const res = await exportOf(app, user.token)
    t.equal(res.statusCode, 200)
    t.same(res.json(), { user: (await me(app, user.token)).json(), sessions: [res.json().sessions[0]], reviews: [], api_keys: [], passkeys: [] })
    t.match(res.json().sessions[0], { current: true, created_at: ISO_UTC })
  })

  t.test('no token is 401', async (t) => {
    const res = await app.inject({ url: '/users/me/export' })
    t.equal(res.statusCode, 401)
    t.same(res.json(), REQUIRED)
    t.equal(res.headers['www-authenticate'], 'Bearer')
  })
})

t.test('DELETE /users/me', async (t) => {
  const app = await build(t, { signinMaxFailures: 3 })
  const bookId = await newBook(app)

  t.test('deletes the account: 204, its tokens are revoked, its reviews gone, the address free, the audit log says so', async (t) => {
    const user = await signUp(app)
    const here = await startSession(app, user.email, PASSWORD)
    const elsewhere = await startSession(app, user.email, PASSWORD)
    const written = (await review(app, here.token, bookId)).json<Review>()
    const res = await deleteMe(app, here.token)
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    for (const token of [here.token, elsewhere.token]) t.same((await me(app, token)).json(), REVOKED)
    const refreshed = await app.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: elsewhere.refresh_token } })
    t.same(refreshed.json(), errorBody(401, 'REFRESH_TOKEN_INVALID', 'Unauthorized', 'invalid token'))
    t.equal((await app.inject({ url: `/reviews/${written.id}` })).statusCode, 404)
    t.same((await signInWith(app, user.email, PASSWORD)).json(), errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'Invalid email or password'))

    const events = await app.stores.audit.list({ user_id: user.id, type: 'user.deleted', limit: 10 })
    t.equal(events.length, 1)
    t.match(events[0], { type: 'user.deleted', user_id: user.id, actor_id: user.id, details: {} })

    const again = await signUp(app, user.email, 'a different long passphrase')
    t.not(again.id, user.id, 'the address signs up again, as a new account')
    const fresh = await startSession(app, user.email, 'a different long passphrase')
    t.same((await exportOf(app, fresh.token)).json().reviews, [], 'the new account inherits nothing')
  })

  t.test('validation: the password is required, a string of 1 to 128 characters, and nothing else', async (t) => {
    const user = await userWith(app, 1)
    for (const payload of [{}, { password: '' }, { password: 12345678 }, { password: null }, { password: 'x'.repeat(129) }, { password: PASSWORD, extra: true }]) {
      const res = await deleteMe(app, user.token, payload)
      t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 40))
      t.match(res.json(), { statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request', message: String, details: Array })
    }
    const noBody = await app.inject({ method: 'DELETE', url: '/users/me', headers: bearer(user.token) })
    t.equal(noBody.statusCode, 400)
    t.equal(noBody.json().code, 'VALIDATION_ERROR')
    t.equal((await me(app, user.token)).statusCode, 200, 'nothing was deleted')
  })

  t.test('no token is 401; a token of another kind of failure is the token\'s answer', async (t) => {
    const res = await app.inject({ method: 'DELETE', url: '/users/me', payload: { password: PASSWORD } })
    t.equal(res.statusCode, 401)
    t.same(res.json(), REQUIRED)
  })

  t.test('a wrong password is 401 with a plain Bearer, counts for the sign-in throttle, and past it even the right one waits; nothing is deleted', async (t) => {
    const user = await signUp(app)
    const pair = await startSession(app, user.email, PASSWORD)
    const wrong = await deleteMe(app, pair.token, { password: 'not the password' })
    t.equal(wrong.statusCode, 401)
    t.same(wrong.json(), WRONG_PASSWORD)
    t.equal(wrong.headers['www-authenticate'], 'Bearer', 'the token itself is still good')
    await deleteMe(app, pair.token, { password: 'not the password' })
    await signInWith(app, user.email, 'wrong again')
    const throttled = await deleteMe(app, pair.token)
    t.equal(throttled.statusCode, 429)
    t.same(throttled.json(), THROTTLED)
    t.ok(Number(throttled.headers['retry-after']) > 0)
    t.equal((await signInWith(app, user.email, PASSWORD)).statusCode, 429, 'sign-in shares the count')
    t.equal((await me(app, pair.token)).statusCode, 200, 'the account is still there')
  })

  t.test('the last Admin is 409 LAST_ADMIN, and nothing of it is deleted', async (t) => {
    const admin = await startSession(app, ADMIN.email, ADMIN.password)
    const written = (await review(app, admin.token, bookId)).json<Review>()
    const res = await deleteMe(app, admin.token, { password: ADMIN.password })
    t.equal(res.statusCode, 409)
    t.same(res.json(), LAST_ADMIN)
    t.equal((await me(app, admin.token)).statusCode, 200)
    t.equal((await app.inject({ url: `/reviews/${written.id}` })).statusCode, 200, 'its reviews stay')
  })
})

t.test('DELETE /users/:id', async (t) => {
  const app = await build(t)
  const admin = await startSession(app, ADMIN.email, ADMIN.password)
  const adminId = await idOfAdmin(app, admin.token)
  const bookId = await newBook(app)

  t.test('an Admin deletes any user: 204, and the user is gone as by DELETE /users/me', async (t) => {
    const user = await userWith(app, 2)
    const written = (await review(app, user.token, bookId)).json<Review>()
    const res = await deleteUser(app, admin.token, user.id)
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.same((await me(app, user.token)).json(), REVOKED)
    t.equal((await app.inject({ url: `/reviews/${written.id}` })).statusCode, 404)
    t.same((await app.inject({ url: `/users/${user.id}`, headers: bearer(admin.token) })).json(), USER_NOT_FOUND)
    const events = await app.stores.audit.list({ user_id: user.id, type: 'user.deleted', limit: 10 })
    t.match(events, [{ type: 'user.deleted', user_id: user.id, actor_id: adminId }], 'the Admin is the actor')
    t.same((await deleteUser(app, admin.token, user.id)).json(), USER_NOT_FOUND, 'a second time: 404')
  })

  t.test('an unknown id is 404; a malformed one 400', async (t) => {
    const res = await deleteUser(app, admin.token, 2147483000)
    t.equal(res.statusCode, 404)
    t.same(res.json(), USER_NOT_FOUND)
    for (const id of ['abc', '0', '-1', '1.5', '2147483648']) {
      const bad = await deleteUser(app, admin.token, id)
      t.equal(bad.statusCode, 400, id)
      t.equal(bad.json().code, 'VALIDATION_ERROR')
    }
  })

  t.test('below Admin is 403, also for a User deleting another account; no token is 401; nothing is deleted', async (t) => {
    const victim = await userWith(app, 1)
    for (const level of [1, 2]) {
      const caller = await userWith(app, level)
      const res = await deleteUser(app, caller.token, victim.id)
      t.equal(res.statusCode, 403)
      t.same(res.json(), FORBIDDEN)
      const self = await deleteUser(app, caller.token, caller.id)
      t.same(self.json(), FORBIDDEN, 'not even its own, by this route')
    }
    t.same((await deleteUser(app, undefined, victim.id)).json(), REQUIRED)
    t.equal((await me(app, victim.token)).statusCode, 200)
  })

  t.test('the last Admin is 409; another Admin may go; two Admins deleting each other at once leave one', async (t) => {
    t.same((await deleteUser(app, admin.token, adminId)).json(), LAST_ADMIN, 'the only Admin, by itself')
    const second = await userWith(app, 3)
    t.same((await deleteUser(app, second.token, adminId)).statusCode, 204, 'one Admin deletes the other')
    t.same((await deleteUser(app, second.token, second.id)).json(), LAST_ADMIN, 'the one left is the last')
    const third = await userWith(app, 1)
    // Promoted by the remaining Admin (the bootstrap one is gone).
    t.equal((await app.inject({ method: 'PATCH', url: `/users/${third.id}`, headers: bearer(second.token), payload: { permission: 3 } })).statusCode, 200)
    const [a, b] = await Promise.all([deleteUser(app, second.token, third.id), deleteUser(app, third.token, second.id)])
    const codes = [a.statusCode, b.statusCode].sort()
    t.equal(codes[0], 204, 'one of them wins')
    t.ok(codes[1] === 409 || codes[1] === 401, `the other is refused (${codes[1]})`)
    const left = (await app.stores.users.list({ offset: 0, limit: 100 })).filter((u) => u.permission === 3)
    t.equal(left.length, 1, 'exactly one Admin remains')
  })
})

t.test('a deleted user\'s tokens answer 401 TOKEN_REVOKED on every route that takes one', async (t) => {
  const app = await build(t)
  const user = await userWith(app, 3)
  await userWith(app, 1) // the bootstrap Admin stays, so this Admin is not the last
  t.equal((await deleteMe(app, user.token, { password: PASSWORD })).statusCode, 204)
  const doc = app.swagger() as { paths: Record<string, Record<string, { security?: unknown[] }>> }
  let checked = 0
  for (const [route, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (operation.security === undefined || operation.security.length === 0) continue
      const url = route.replace(/\{id\}/g, route.startsWith('/reviews') ? '0123456789abcdef01234567' : '1').replace(/\{[^}]+\}/g, '1')
      const res = await app.inject({ method: method.toUpperCase() as 'GET', url, headers: bearer(user.token), ...(method === 'get' ? {} : { payload: {} }) })
      t.same(res.json(), REVOKED, `${method.toUpperCase()} ${url}`)
      checked++
    }
  }
  t.ok(checked >= 15, `${checked} routes`)
})

/** Every text a value holds, lower-cased: strings, buffers, and what nests in documents. */
function textOf (value: unknown): string {
  if (value === null || value === undefined) return ''
  if (Buffer.isBuffer(value)) return value.toString('utf8').toLowerCase()
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8').toLowerCase()
  if (typeof value === 'object') return JSON.stringify(value).toLowerCase()
  return String(value).toLowerCase()
}

/** Where `needle` (lower-case) occurs: `table.column`, `collection`, `redis key`. */
async function whereIs (app: FastifyInstance, needle: string, sqliteFile: string | undefined): Promise<string[]> {
  const found: string[] = []
  const seen = (place: string, value: unknown): void => {
    if (textOf(value).includes(needle)) found.push(place)
  }
  const { database } = app.config
  if (database.kind === 'sqlite') {
    if (sqliteFile === undefined) throw new Error('a SQLite search needs the database on a file')
    const db = new Database(sqliteFile, { readonly: true })
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>
      for (const { name } of tables) {
        for (const row of db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all() as Array<Record<string, unknown>>) {
          for (const [column, value] of Object.entries(row)) seen(`${name}.${column}`, value)
        }
      }
      if (tables.length < 10) throw new Error(`only ${tables.length} tables: not the app's database?`)
    } finally {
      db.close()
    }
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mysql = require('mysql2/promise') as typeof import('mysql2/promise')
    const conn = await mysql.createConnection(database.url)
    try {
      const [tables] = await conn.query('SHOW TABLES') as unknown as [Array<Record<string, string>>]
      for (const entry of tables) {
        const name = Object.values(entry)[0] ?? ''
        const [rows] = await conn.query(`SELECT * FROM \`${name}\``) as unknown as [Array<Record<string, unknown>>]
        for (const row of rows) for (const [column, value] of Object.entries(row)) seen(`${name}.${column}`, value)
      }
      if (tables.length < 10) throw new Error(`only ${tables.length} tables: not the app's database?`)
    } finally {
      await conn.end()
    }
  }
  if (app.config.mongodbUrl !== undefined) {
    const client = await MongoClient.connect(app.config.mongodbUrl, { serverSelectionTimeoutMS: 2000 })
    try {
      const db = client.db()
      for (const { name } of await db.listCollections().toArray()) {
        for (const doc of await db.collection(name).find().toArray()) seen(`mongodb ${name}`, doc)
      }
    } finally {
      await client.close()
    }
  }
  const redis = sharedRedis(app)
  // A Cluster's keys are spread over its masters, and carry the namespace inside a hash tag.
  for (const node of redis === undefined ? [] : redis instanceof Cluster ? redis.nodes('master') : [redis]) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `*${app.config.cacheNamespace}:*`, 'COUNT', 500)
      cursor = next
      for (const key of keys) {
        seen(`redis key ${key}`, key)
        const type = await node.type(key)
        const value = type === 'string'
          ? await node.getBuffer(key)
          : type === 'hash' ? await node.hgetall(key)
            : type === 'set' ? await node.smembers(key)
              : type === 'zset' ? await node.zrange(key, '0', '-1')
                : type === 'list' ? await node.lrange(key, 0, -1)
                  : type === 'none' ? null : `unread type ${type} of ${key}`
        seen(`redis ${key}`, value)
      }
    } while (cursor !== '0')
  }
  return found
}

t.test('after a deletion no copy of the address stays anywhere: SQL tables, MongoDB collections, Redis keys and values', async (t) => {
  let sqliteFile: string | undefined
  if (!REAL_BACKENDS) {
    const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-leaving-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    sqliteFile = path.join(dir, 'bookstore.db')
  }
  const app = await build(t, sqliteFile === undefined ? {} : { databaseUrl: `sqlite:${sqliteFile}` })
  const bookId = await newBook(app)
  const mixed = uniqueEmail('Leaving-Person').replace('leaving-person', 'Leaving-Person')
  const email = mixed.toLowerCase()
  const user = await signUp(app, mixed)
  t.equal(user.email, email)
  const bystander = await userWith(app, 1)

  // A rich account: sessions, a refresh, reviews under the address, an idempotent creation
  // replayed, account tokens, mail waiting in the outbox, failed sign-ins, an export.
  const pair = await startSession(app, email, PASSWORD)
  await startSession(app, email, PASSWORD)
  const refreshed = await app.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: pair.refresh_token } })
  t.equal(refreshed.statusCode, 200)
  const token = refreshed.json<{ token: string }>().token
  await review(app, token, bookId)
  await review(app, token, bookId, { content: `Written by ${email}` })
  const key = { 'idempotency-key': `leaving-${randomBytes(8).toString('hex')}` }
  const created = await review(app, token, bookId, {}, key)
  const replayed = await review(app, token, bookId, {}, key)
  t.equal(replayed.headers['idempotent-replayed'], 'true')
  t.equal(replayed.json<Review>().id, created.json<Review>().id)
  t.equal(created.json<Review>().author, email, 'the replayed body holds the address')
  await review(app, bystander.token, bookId, { author: 'Bystander' })

  for (const [url, payload] of [['/users/password-reset', { email }], ['/users/me/verify-email', undefined]] as const) {
    // Built in parallel by another change: used when present.
    const res = await app.inject({ method: 'POST', url, headers: bearer(token), ...(payload === undefined ? {} : { payload }) })
    t.comment(`${url}: ${res.statusCode}`)
  }
  // Pending for an hour yet, so the worker leaves them in the outbox until the deletion.
  const later = new Date(Date.now() + 3600_000).toISOString()
  for (const subject of ['Verify your address', 'Reset your password']) {
    await app.stores.outbox.enqueue({ user_id: user.id, to: email, subject, text: `Hello ${email}`, html: `<p>Hello ${email}</p>` }, later)
  }
  for (const purpose of ['verify_email', 'reset_password'] as const) {
    await app.stores.tokens.issue({ token_hash: createHash('sha256').update(randomBytes(32)).digest('hex'), user_id: user.id, purpose, email, now: new Date().toISOString(), expires_at: later })
  }
  // A passkey, and a registration challenge still pending (the user's handle, not the address, goes to authenticators).
  const passkeyOptions = await app.inject({ method: 'POST', url: '/users/me/passkeys/options', headers: bearer(token) })
  t.equal(passkeyOptions.statusCode, 200)
  const pendingChallenge = createHash('sha256').update(passkeyOptions.json<{ challenge: string }>().challenge).digest('hex')
  await app.stores.passkeys.create({ id: randomBytes(16).toString('hex'), user_id: user.id, credential_id: randomBytes(16).toString('base64url'), public_key: new Uint8Array([1, 2, 3]), counter: 0, transports: [], name: 'Leaving laptop', now: new Date().toISOString() })
  for (let i = 0; i < 2; i++) t.equal((await signInWith(app, email, 'not the password')).statusCode, 401)
  // API keys: one used (its check cached with Redis, the address sealed), one revoked.
  const apiKeys = await Promise.all(['used', 'revoked'].map(async (name) =>
    (await app.inject({ method: 'POST', url: '/users/me/api-keys', headers: bearer(token), payload: { name } })).json<{ id: string, key: string }>()))
  t.equal((await me(app, apiKeys[0]!.key)).statusCode, 200, 'a key check that may now be cached')
  t.equal((await app.inject({ method: 'DELETE', url: `/users/me/api-keys/${apiKeys[1]!.id}`, headers: bearer(token) })).statusCode, 204)
  t.equal((await exportOf(app, token)).statusCode, 200)
  t.equal((await exportOf(app, token)).json<{ passkeys: unknown[] }>().passkeys.length, 1, 'the export lists the passkey')
  t.equal((await me(app, token)).statusCode, 200, 'a session check that may now be cached')
  // TOTP on, one recovery code spent: a secret and recovery code rows of the account's.
  const { secret } = (await app.inject({ method: 'POST', url: '/users/me/totp', headers: bearer(token) })).json<{ secret: string }>()
  const confirmed = await app.inject({ method: 'POST', url: '/users/me/totp/confirm', headers: bearer(token), payload: { code: await generate({ secret }) } })
  t.equal(confirmed.statusCode, 200)
  const [recovery = ''] = confirmed.json<{ recovery_codes: string[] }>().recovery_codes
  t.equal((await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email, password: PASSWORD, code: recovery } })).statusCode, 200)

  const before = await whereIs(app, email, sqliteFile)
  t.ok(before.includes('users.email'), `the search finds the address while the account lives: ${before.join(', ')}`)
  t.ok(before.some((place) => place.startsWith(REAL_BACKENDS ? 'mongodb reviews' : 'reviews.')), 'in its reviews')
  t.ok(before.includes('outbox.recipient'), 'in the outbox')
  if (sharedRedis(app) !== undefined) t.ok(before.some((place) => place.startsWith('redis ')), 'and in the recorded idempotent creation')

  t.same(await whereIs(app, secret.toLowerCase(), sqliteFile), ['user_totp.secret'], 'the search finds the TOTP secret while the account lives')

  t.equal((await deleteMe(app, token)).statusCode, 204)
  t.same(await whereIs(app, email, sqliteFile), [], 'no table, collection, key or value holds the address')
  t.same(await app.stores.passkeys.list(user.id), [], 'the passkeys went with the account')
  t.equal(await app.stores.passkeys.spendChallenge(pendingChallenge, 'register', user.id, new Date().toISOString()), false, 'and its pending challenge')
  t.same([await app.stores.totp.get(user.id), await app.stores.totp.recoveryCodesLeft(user.id)], [undefined, 0], 'nor its TOTP secret or recovery codes')
  t.same(await whereIs(app, secret.toLowerCase(), sqliteFile), [], 'the secret is nowhere')
  t.same((await me(app, token)).json(), REVOKED)
  t.equal((await me(app, apiKeys[0]!.key)).json().code, 'API_KEY_INVALID', 'its keys went with it')
  t.equal((await app.inject({ url: `/books/${bookId}/reviews?limit=100` })).json<Review[]>().length, 1, 'the bystander\'s review stays')
  t.equal((await me(app, bystander.token)).statusCode, 200, 'and the bystander')

  const back = await signUp(app, email, 'a different long passphrase')
  t.not(back.id, user.id, 'the address may sign up again')
})
