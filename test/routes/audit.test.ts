import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { AuditEvent, AuditEventType } from '../../src/schemas/audit'
import type { Book } from '../../src/schemas/book'
import { ADMIN, SAMPLE_BOOK, bearer, build, errorBody, signUp, startSession, uniqueEmail, userWith } from '../support/app'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const PASSWORD = 'a fine long passphrase'
const NEXT = /^<(\/audit-events\?[^>]+)>; rel="next"$/

/** The events an Admin reads at `url`, asserting the answer is a 200. */
async function read (t: Test, app: FastifyInstance, admin: string, url: string): Promise<{ events: AuditEvent[], res: LightMyRequestResponse }> {
  const res = await app.inject({ url, headers: bearer(admin) })
  t.equal(res.statusCode, 200, url)
  return { events: res.json<AuditEvent[]>(), res }
}

/** Every event of `type` (at most 100: enough for one test's own), newest first. */
async function ofType (t: Test, app: FastifyInstance, admin: string, type: AuditEventType): Promise<AuditEvent[]> {
  return (await read(t, app, admin, `/audit-events?type=${type}&limit=100`)).events
}

/** The one event the request answered by `res` recorded, of `type`; fails unless there is exactly one. */
async function recordedBy (t: Test, app: FastifyInstance, admin: string, type: AuditEventType, res: LightMyRequestResponse): Promise<AuditEvent | undefined> {
  const requestId = res.headers['x-request-id']
  const found = (await ofType(t, app, admin, type)).filter((e) => e.request_id === requestId)
  t.equal(found.length, 1, `one ${type} for request ${String(requestId)}`)
  return found[0]
}

/** What no event may hold: an address, or a secret the flow handled. */
function assertNothingSecret (t: Test, events: AuditEvent[], secrets: string[]): void {
  const text = JSON.stringify(events)
  t.notMatch(text, /@/, 'no email address in any event')
  for (const secret of secrets) t.notOk(text.includes(secret), 'no password or token in any event')
}

t.test('GET /audit-events and /verify: Admins only', async (t) => {
  const app = await build(t)
  const user = await userWith(app, 1)
  const author = await userWith(app, 2)
  for (const url of ['/audit-events', '/audit-events/verify']) {
    const anonymous = await app.inject({ url })
    t.equal(anonymous.statusCode, 401, `${url} without a token`)
    t.same(anonymous.json(), errorBody(401, 'TOKEN_REQUIRED', 'Unauthorized', 'Token is required'))
    t.equal(anonymous.headers['www-authenticate'], 'Bearer')
    for (const [who, token] of [['User', user.token], ['Author', author.token]] as const) {
      const res = await app.inject({ url, headers: bearer(token) })
      t.equal(res.statusCode, 403, `${url} as ${who}`)
      t.same(res.json(), errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized'))
    }
  }
})

t.test('GET /audit-events: a bad query is 400 VALIDATION_ERROR naming the parameter', async (t) => {
  const app = await build(t)
  const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
  const cases: Array<[string, string, string]> = [
    ['limit=0', '/limit', 'must be >= 1'],
    ['limit=101', '/limit', 'must be <= 100'],
    ['limit=abc', '/limit', 'must be integer'],
    ['limit=2.5', '/limit', 'must be integer'],
    ['type=user.exploded', '/type', 'must be equal to one of the allowed values'],
    ['type=', '/type', 'must be equal to one of the allowed values'],
    ['before=0', '/before', 'must be >= 1'],
    ['before=-3', '/before', 'must be >= 1'],
    ['before=abc', '/before', 'must be integer'],
    ['before=2147483648', '/before', 'must be <= 2147483647'],
    ['user_id=0', '/user_id', 'must be >= 1'],
    ['user_id=x', '/user_id', 'must be integer'],
    ['after=3', '/after', 'is not an allowed field']
  ]
  for (const [query, path, message] of cases) {
    const res = await app.inject({ url: `/audit-events?${query}`, headers: bearer(admin) })
    t.equal(res.statusCode, 400, query)
    t.same(res.json(), { ...errorBody(400, 'VALIDATION_ERROR', 'Bad Request', `querystring${path} ${message}`), details: [{ path, message }] }, query)
  }
})

t.test('sign-in, a failed sign-in, sign-out: each recorded with who, from where and which request', async (t) => {
  const app = await build(t)
  const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
  const user = await signUp(app)
  const signIn = (email: string, password: string, requestId?: string) => app.inject({
    method: 'POST', url: '/users/sign-in', payload: { email, password }, headers: requestId === undefined ? {} : { 'x-request-id': requestId }
  })

  const ok = await signIn(user.email, PASSWORD, 'sign-in-audit-1')
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['x-request-id'], 'sign-in-audit-1')
  const signedIn = await recordedBy(t, app, admin, 'user.signed_in', ok)
  t.same(signedIn, {
    id: signedIn?.id, type: 'user.signed_in', at: signedIn?.at, user_id: user.id, actor_id: user.id,
    ip: '127.0.0.1', request_id: 'sign-in-audit-1', details: { method: 'password' }
  }, 'the user is the actor of their own sign-in')
  t.match(signedIn?.at, ISO_UTC)

  const wrong = await signIn(user.email, 'not the password at all')
  t.equal(wrong.statusCode, 401)
  const failed = await recordedBy(t, app, admin, 'user.sign_in_failed', wrong)
  t.same(failed, {
    id: failed?.id, type: 'user.sign_in_failed', at: failed?.at, user_id: user.id, actor_id: null, ip: '127.0.0.1', request_id: wrong.headers['x-request-id'], details: { method: 'password' }
  }, 'a wrong password: about the account, no actor')

  const unknown = await signIn(uniqueEmail('nobody'), PASSWORD)
  t.equal(unknown.statusCode, 401)
  t.match(await recordedBy(t, app, admin, 'user.sign_in_failed', unknown), { user_id: null, actor_id: null, details: { method: 'password' } },
    'an unknown address: user_id null')

  const { token } = ok.json<{ token: string }>()
  const out = await app.inject({ method: 'POST', url: '/users/sign-out', headers: bearer(token) })
  t.equal(out.statusCode, 204)
  const signedOut = await recordedBy(t, app, admin, 'user.signed_out', out)
  t.same(signedOut, {
    id: signedOut?.id, type: 'user.signed_out', at: signedOut?.at, user_id: user.id, actor_id: user.id, ip: '127.0.0.1', request_id: out.headers['x-request-id'], details: { scope: 'current', sessions: 1 }
  })

  const all = (await read(t, app, admin, '/audit-events?limit=100')).events
  assertNothingSecret(t, all, [PASSWORD, 'not the password at all', token, ok.json<{ refresh_token: string }>().refresh_token])
})

t.test('a throttled sign-in (429) checks nothing and records nothing', async (t) => {
  const app = await build(t, { signinMaxFailures: 2 })
  const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
  const user = await signUp(app)
  const attempt = () => app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: 'wrong wrong wrong' } })
  t.equal((await attempt()).statusCode, 401)
  t.equal((await attempt()).statusCode, 401)
  const throttled = await attempt()
  t.equal(throttled.statusCode, 429)
  const failures = (await read(t, app, admin, `/audit-events?type=user.sign_in_failed&user_id=${user.id}`)).events
  t.equal(failures.length, 2, 'the two failures, not the refused third')
  t.notOk(failures.some((e) => e.request_id === throttled.headers['x-request-id']))
})

t.test('ending sessions from /users/me/sessions is a sign-out; one that ends nothing records nothing', async (t) => {
  const app = await build(t)
  const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
  const user = await signUp(app)
  const here = await startSession(app, user.email, PASSWORD)
  const elsewhere = await startSession(app, user.email, PASSWORD)
  await startSession(app, user.email, PASSWORD)

  const one = await app.inject({ method: 'DELETE', url: `/users/me/sessions/${elsewhere.sid}`, headers: bearer(here.token) })
  t.equal(one.statusCode, 204)
  t.match(await recordedBy(t, app, admin, 'user.signed_out', one), { user_id: user.id, actor_id: user.id, details: { scope: 'other', sessions: 1 } })

  const again = await app.inject({ method: 'DELETE', url: `/users/me/sessions/${elsewhere.sid}`, headers: bearer(here.token) })
  t.equal(again.statusCode, 404)
  t.notOk((await ofType(t, app, admin, 'user.signed_out')).some((e) => e.request_id === again.headers['x-request-id']), 'a 404 records nothing')

  const all = await app.inject({ method: 'DELETE', url: '/users/me/sessions', headers: bearer(here.token) })
  t.equal(all.statusCode, 204)
  t.same((await recordedBy(t, app, admin, 'user.signed_out', all))?.details, { scope: 'all', sessions: 2 }, 'this one and the one left')
})

t.test('a spent refresh token presented again: session.reuse_detected about its user, with no actor', async (t) => {
  const app = await build(t)
  const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
  const user = await signUp(app)
  const first = await startSession(app, user.email, PASSWORD)
  const refresh = (token: string) => app.inject({ method: 'POST', url: '/users/refresh', payload: { refresh_token: token } })
  const rotated = await refresh(first.refresh_token)
  t.equal(rotated.statusCode, 200)
  const replay = await refresh(first.refresh_token)
  t.equal(replay.statusCode, 401)
  t.equal(replay.json<{ code: string }>().code, 'REFRESH_TOKEN_REUSED')
  const event = await recordedBy(t, app, admin, 'session.reuse_detected', replay)
  t.same(event, { id: event?.id, type: 'session.reuse_detected', at: event?.at, user_id: user.id, actor_id: null, ip: '127.0.0.1', request_id: replay.headers['x-request-id'], details: {} })
  const all = (await read(t, app, admin, '/audit-events?limit=100')).events
  t.notOk(all.some((e) => e.request_id === rotated.headers['x-request-id']), 'a refresh that rotates records nothing')
  const invalid = await refresh(first.refresh_token)
  t.equal(invalid.json<{ code: string }>().code, 'REFRESH_TOKEN_INVALID')
  t.notOk((await read(t, app, admin, '/audit-events?limit=100')).events.some((e) => e.request_id === invalid.headers['x-request-id']),
    'a replay after the session ended is only invalid: nothing more to record')
  assertNothingSecret(t, all, [first.refresh_token, rotated.json<{ refresh_token: string }>().refresh_token])
})

t.test('book writes: created, updated, deleted with details.book_id; a write that fails records nothing', async (t) => {
  const app = await build(t)
  const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
  const author = await userWith(app, 2)
  const created = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })
  t.equal(created.statusCode, 201)
  const book = created.json<Book>()
  const createdEvent = await recordedBy(t, app, admin, 'book.created', created)
  t.same(createdEvent, {
    id: createdEvent?.id, type: 'book.created', at: createdEvent?.at, user_id: null, actor_id: author.id,
    ip: '127.0.0.1', request_id: created.headers['x-request-id'], details: { book_id: book.id }
  }, 'about a book, not an account: user_id null; the writer is the actor')

  const stale = await app.inject({
    method: 'PUT', url: `/books/${book.id}`, headers: { ...bearer(author.token), 'if-match': '"not-the-current-tag"' }, payload: { ...SAMPLE_BOOK, title: 'Stale' }
  })
  t.equal(stale.statusCode, 412)
  t.same(await ofType(t, app, admin, 'book.updated'), [], 'a 412 PUT records nothing')

  const updated = await app.inject({
    method: 'PUT', url: `/books/${book.id}`, headers: { ...bearer(author.token), 'if-match': String(created.headers.etag) }, payload: { ...SAMPLE_BOOK, title: 'New title' }
  })
  t.equal(updated.statusCode, 200)
  t.match(await recordedBy(t, app, admin, 'book.updated', updated), { user_id: null, actor_id: author.id, details: { book_id: book.id } })

  const missing = await app.inject({ method: 'PUT', url: '/books/2147483647', headers: bearer(author.token), payload: SAMPLE_BOOK })
  t.equal(missing.statusCode, 404)
  t.equal((await ofType(t, app, admin, 'book.updated')).length, 1, 'a 404 PUT records nothing')

  const staleDelete = await app.inject({ method: 'DELETE', url: `/books/${book.id}`, headers: { ...bearer(author.token), 'if-match': String(created.headers.etag) } })
  t.equal(staleDelete.statusCode, 412)
  const deleted = await app.inject({ method: 'DELETE', url: `/books/${book.id}`, headers: bearer(admin) })
  t.equal(deleted.statusCode, 204)
  const admins = (await read(t, app, admin, '/users/me')).res.json<{ id: number }>()
  t.match(await recordedBy(t, app, admin, 'book.deleted', deleted), { user_id: null, actor_id: admins.id, details: { book_id: book.id } })
  const gone = await app.inject({ method: 'DELETE', url: `/books/${book.id}`, headers: bearer(admin) })
  t.equal(gone.statusCode, 404)
  t.equal((await ofType(t, app, admin, 'book.deleted')).length, 1, 'a 412 or 404 DELETE records nothing')
})

t.test('pages newest first by `before`, with a Link that keeps the filters and limit; filters by user and type', async (t) => {
  const app = await build(t)
  const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
  const a = await signUp(app)
  const b = await signUp(app)
  for (let i = 0; i < 3; i++) {
    for (const user of [a, b]) await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: user.email, password: 'wrong password here' } })
  }
  await startSession(app, a.email, PASSWORD)

  const everything = (await read(t, app, admin, '/audit-events?limit=100')).events
  t.ok(everything.length >= 8)
  t.same(everything.map((e) => e.id), [...everything.map((e) => e.id)].sort((x, y) => y - x), 'newest first')
  const first = await read(t, app, admin, '/audit-events')
  t.same(first.events, everything.slice(0, 20), 'the default page is 20 events')

  // Follow the Links of a filtered list: each page full, the last one without a Link.
  const seen: AuditEvent[] = []
  let url: string | undefined = `/audit-events?user_id=${a.id}&type=user.sign_in_failed&limit=2`
  const links: string[] = []
  while (url !== undefined) {
    const page: { events: AuditEvent[], res: LightMyRequestResponse } = await read(t, app, admin, url)
    seen.push(...page.events)
    const link = page.res.headers.link
    url = typeof link === 'string' ? NEXT.exec(link)?.[1] : undefined
    if (typeof link === 'string') {
      links.push(link)
      t.equal(page.events.length, 2, 'a Link only under a full page')
    }
  }
  const expected = everything.filter((e) => e.user_id === a.id && e.type === 'user.sign_in_failed')
  t.equal(expected.length, 3)
  t.same(seen, expected, 'the pages together: every matching event once, newest first')
  t.same(links[0], `</audit-events?before=${expected[1]?.id}&limit=2&user_id=${a.id}&type=user.sign_in_failed>; rel="next"`)
  t.equal(links.length, 1, 'the second page, not full, has none')

  t.same((await read(t, app, admin, `/audit-events?type=user.signed_in&user_id=${a.id}`)).events.map((e) => e.type), ['user.signed_in'])
  t.same((await read(t, app, admin, `/audit-events?user_id=${b.id}`)).events.map((e) => [e.type, e.user_id]),
    [['user.sign_in_failed', b.id], ['user.sign_in_failed', b.id], ['user.sign_in_failed', b.id], ['user.signed_up', b.id]])
  const partial = await read(t, app, admin, `/audit-events?before=${expected[2]?.id}&limit=100`)
  t.equal(partial.res.headers.link, undefined, 'no Link under a page that is not full')
  t.ok(partial.events.every((e) => e.id < (expected[2]?.id ?? 0)))
  t.same((await read(t, app, admin, '/audit-events?user_id=2147483647')).events, [], 'no events of an unknown user')
})

t.test('GET /audit-events/verify: the count, and whether the chain holds', async (t) => {
  const app = await build(t)
  const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
  await signUp(app)
  await app.inject({ method: 'POST', url: '/users/sign-in', payload: { email: uniqueEmail(), password: PASSWORD } })
  const count = (await read(t, app, admin, '/audit-events?limit=100')).events.length
  const res = await app.inject({ url: '/audit-events/verify', headers: bearer(admin) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { events: count, valid: true })

  // A broken chain (the store's contract tests break real ones) answers where it breaks.
  const original = app.audit.verify
  Object.assign(app.audit, { verify: async () => ({ events: 7, valid: false, first_invalid_id: 4 }) })
  t.teardown(() => { Object.assign(app.audit, { verify: original }) })
  const broken = await app.inject({ url: '/audit-events/verify', headers: bearer(admin) })
  t.equal(broken.statusCode, 200)
  t.same(broken.json(), { events: 7, valid: false, first_invalid_id: 4 })
})

t.test('`ip` is the client as TRUST_PROXY lets the service see it, never a forged X-Forwarded-For', async (t) => {
  for (const [trustProxy, remoteAddress, forwarded, expected] of [
    [undefined, '192.0.2.5', '203.0.113.1', '192.0.2.5'],
    ['10.0.0.0/8', '10.1.2.3', '203.0.113.1', '203.0.113.1'],
    ['10.0.0.0/8', '192.0.2.5', '203.0.113.1', '192.0.2.5'],
    ['1', '10.1.2.3', '1.1.1.1, 203.0.113.7', '203.0.113.7']
  ] as const) {
    const app = await build(t, trustProxy === undefined ? {} : { trustProxy })
    const { token: admin } = await startSession(app, ADMIN.email, ADMIN.password)
    const res = await app.inject({
      method: 'POST', url: '/users/sign-in', remoteAddress, headers: { 'x-forwarded-for': forwarded }, payload: { email: uniqueEmail(), password: PASSWORD }
    })
    t.equal(res.statusCode, 401)
    t.equal((await recordedBy(t, app, admin, 'user.sign_in_failed', res))?.ip, expected, `TRUST_PROXY ${String(trustProxy)}, from ${remoteAddress} for ${forwarded}`)
  }
})
