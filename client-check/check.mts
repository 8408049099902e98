/**
 * A client generated from docs/openapi.json (openapi-typescript) and called through
 * openapi-fetch: `tsc` proves every call type-checks against the document, and running it
 * against a live server (client-check/run.sh) proves the answers are what the types say.
 * Every operation in the document must be called here: the last step compares the two.
 *   node client-check/dist/check.mjs http://127.0.0.1:PORT ADMIN_EMAIL ADMIN_PASSWORD
 */
import { readFileSync } from 'node:fs'
import createClient, { type Middleware } from 'openapi-fetch'
import type { components, paths } from './generated/openapi.js'

type ErrorCode = components['schemas']['ErrorResponse']['code']
type Book = components['schemas']['Book']

const [baseUrl, adminEmail, adminPassword] = process.argv.slice(2)
if (baseUrl === undefined || adminEmail === undefined || adminPassword === undefined) throw new Error('usage: check.mjs BASE_URL ADMIN_EMAIL ADMIN_PASSWORD')

const called = new Set<string>()
const record: Middleware = {
  onRequest ({ schemaPath, request }) { called.add(`${request.method.toLowerCase()} ${schemaPath}`) }
}
const client = createClient<paths>({ baseUrl })
client.use(record)

function expect (what: string, status: number, wanted: number): void {
  if (status !== wanted) throw new Error(`${what}: answered ${status}, expected ${wanted}`)
  console.log(`ok ${what}: ${status}`)
}
function expectCode (what: string, code: ErrorCode | undefined, wanted: ErrorCode): void {
  if (code !== wanted) throw new Error(`${what}: code ${String(code)}, expected ${wanted}`)
  console.log(`ok ${what}: ${code}`)
}

const root = await client.GET('/')
expect('GET /', root.response.status, 200)
if (root.data?.status !== 'ok') throw new Error('GET / is not {"status":"ok"}')
expect('GET /health/live', (await client.GET('/health/live')).response.status, 200)
const ready = await client.GET('/health/ready')
expect('GET /health/ready', ready.response.status, 200)

const email = `client-${Date.now()}@example.com`
const password = 'a generated client passphrase'
const signUp = await client.POST('/users', { body: { email, password } })
expect('POST /users', signUp.response.status, 201)
const userId: number = signUp.data?.id ?? 0

const signIn = await client.POST('/users/sign-in', { body: { email, password } })
expect('POST /users/sign-in', signIn.response.status, 200)
const admin = await client.POST('/users/sign-in', { body: { email: adminEmail, password: adminPassword } })
expect('POST /users/sign-in (Admin)', admin.response.status, 200)
let asUser = { Authorization: `Bearer ${signIn.data?.token ?? ''}` }
const asAdmin = { Authorization: `Bearer ${admin.data?.token ?? ''}` }

const me = await client.GET('/users/me', { headers: asUser })
expect('GET /users/me', me.response.status, 200)
if (me.data?.email !== email) throw new Error('GET /users/me is someone else')
const promoted = await client.PATCH('/users/{id}', { params: { path: { id: userId } }, body: { permission: 2 }, headers: asAdmin })
expect('PATCH /users/{id}', promoted.response.status, 200)
if (promoted.data?.permission !== 2) throw new Error('PATCH /users/{id} did not make an Author')
// A token issued after the promotion carries the new level on every version of the service.
const again = await client.POST('/users/sign-in', { body: { email, password } })
asUser = { Authorization: `Bearer ${again.data?.token ?? ''}` }

// Books, with an Idempotency-Key: the retry replays the same book.
const body = { title: 'A Generated Client', author: 'openapi-typescript', published_at: '2024-01-01', total_pages: 12 }
const key = `client-check-${Date.now()}`
const created = await client.POST('/books', { params: { header: { 'idempotency-key': key } }, body, headers: asUser })
expect('POST /books', created.response.status, 201)
const book: Book | undefined = created.data
if (book === undefined) throw new Error('POST /books answered no book')
const replay = await client.POST('/books', { params: { header: { 'idempotency-key': key } }, body, headers: asUser })
expect('POST /books (replay)', replay.response.status, 201)
if (replay.response.headers.get('idempotent-replayed') !== 'true' || replay.data?.id !== book.id) throw new Error('the retry was not a replay')

// `o` is optional: a list without it compiles and answers.
const list = await client.GET('/books', { params: { query: { limit: 5 } } })
expect('GET /books', list.response.status, 200)
const fetched = await client.GET('/books/{id}', { params: { path: { id: book.id } } })
expect('GET /books/{id}', fetched.response.status, 200)
// Conditional requests are typed header parameters: revalidate, then write only over what was read.
const etag = fetched.response.headers.get('etag')
if (etag === null) throw new Error('GET /books/{id} answered no ETag')
const unchanged = await client.GET('/books/{id}', { params: { path: { id: book.id }, header: { 'if-none-match': etag } } })
expect('GET /books/{id} (If-None-Match: its ETag)', unchanged.response.status, 304)
const missing = await client.GET('/books/{id}', { params: { path: { id: 2147483647 } } })
expect('GET /books/{id} (missing)', missing.response.status, 404)
expectCode('GET /books/{id} (missing)', missing.error?.code, 'BOOK_NOT_FOUND')
const stale = await client.PUT('/books/{id}', { params: { path: { id: book.id }, header: { 'if-match': '"not-the-current-etag"' } }, body, headers: asUser })
expect('PUT /books/{id} (If-Match: another ETag)', stale.response.status, 412)
expectCode('PUT /books/{id} (If-Match: another ETag)', stale.error?.code, 'PRECONDITION_FAILED')
const put = await client.PUT('/books/{id}', { params: { path: { id: book.id }, header: { 'if-match': etag } }, body: { ...body, title: 'A Typed Client' }, headers: asUser })
expect('PUT /books/{id} (If-Match: its ETag)', put.response.status, 200)
if (put.response.headers.get('etag') === etag) throw new Error('PUT /books/{id} answered the old ETag')
const changed = await client.GET('/books/{id}', { params: { path: { id: book.id }, header: { 'if-none-match': etag } } })
expect('GET /books/{id} (If-None-Match: the old ETag)', changed.response.status, 200)

const review = await client.POST('/reviews', { body: { book_id: book.id, title: 'Typed', content: 'Every call type-checks' }, headers: asUser })
expect('POST /reviews', review.response.status, 201)
const reviewId = review.data?.id ?? ''
expect('GET /reviews/{id}', (await client.GET('/reviews/{id}', { params: { path: { id: reviewId } } })).response.status, 200)
expect('GET /books/{id}/reviews', (await client.GET('/books/{id}/reviews', { params: { path: { id: book.id }, query: { limit: 10 } } })).response.status, 200)
expect('PUT /reviews/{id}', (await client.PUT('/reviews/{id}', { params: { path: { id: reviewId } }, body: { title: 'Still typed', content: 'Yes' }, headers: asUser })).response.status, 200)
expect('DELETE /reviews/{id}', (await client.DELETE('/reviews/{id}', { params: { path: { id: reviewId } }, headers: asUser })).response.status, 204)
expect('DELETE /books/{id}', (await client.DELETE('/books/{id}', { params: { path: { id: book.id } }, headers: asUser })).response.status, 204)

// Admin look-up, sessions, refresh, password change, sign-out.
const users = await client.GET('/users', { params: { query: { q: 'client-', limit: 5 } }, headers: asAdmin })
expect('GET /users', users.response.status, 200)
expect('GET /users/{id}', (await client.GET('/users/{id}', { params: { path: { id: userId } }, headers: asAdmin })).response.status, 200)
const refreshed = await client.POST('/users/refresh', { body: { refresh_token: again.data?.refresh_token ?? '' } })
expect('POST /users/refresh', refreshed.response.status, 200)
asUser = { Authorization: `Bearer ${refreshed.data?.token ?? ''}` }
const sessions = await client.GET('/users/me/sessions', { headers: asUser })
expect('GET /users/me/sessions', sessions.response.status, 200)
const other = (sessions.data ?? []).find((session) => !session.current)
if (other === undefined) throw new Error('GET /users/me/sessions lists no other session')
expect('DELETE /users/me/sessions/{id}', (await client.DELETE('/users/me/sessions/{id}', { params: { path: { id: other.id } }, headers: asUser })).response.status, 204)
const newPassword = 'a regenerated client passphrase'
expect('PUT /users/me/password', (await client.PUT('/users/me/password', { body: { current_password: password, new_password: newPassword }, headers: asUser })).response.status, 204)
expect('POST /users/sign-out', (await client.POST('/users/sign-out', { headers: asUser })).response.status, 204)
const last = await client.POST('/users/sign-in', { body: { email, password: newPassword } })
expect('POST /users/sign-in (new password)', last.response.status, 200)
expect('DELETE /users/me/sessions', (await client.DELETE('/users/me/sessions', { headers: { Authorization: `Bearer ${last.data?.token ?? ''}` } })).response.status, 204)

// Accounts: verification, reset and email change (their tokens arrive by mail: the typed
// error answers stand for them here), export, second factors, API keys, the audit log, leaving.
const fresh = await client.POST('/users/sign-in', { body: { email, password: newPassword } })
expect('POST /users/sign-in (again)', fresh.response.status, 200)
const asFresh = { Authorization: `Bearer ${fresh.data?.token ?? ''}` }
const NO_TOKEN = 'A'.repeat(43)
expect('POST /users/me/verify-email', (await client.POST('/users/me/verify-email', { headers: asFresh })).response.status, 202)
const verify = await client.POST('/users/verify-email', { body: { token: NO_TOKEN } })
expect('POST /users/verify-email (no such token)', verify.response.status, 400)
expectCode('POST /users/verify-email (no such token)', verify.error?.code, 'VERIFICATION_TOKEN_INVALID')
expect('POST /users/password-reset', (await client.POST('/users/password-reset', { body: { email } })).response.status, 202)
const reset = await client.POST('/users/password-reset/confirm', { body: { token: NO_TOKEN, new_password: 'yet another client passphrase' } })
expect('POST /users/password-reset/confirm (no such token)', reset.response.status, 400)
expectCode('POST /users/password-reset/confirm (no such token)', reset.error?.code, 'RESET_TOKEN_INVALID')
expect('POST /users/me/email', (await client.POST('/users/me/email', { body: { password: newPassword, new_email: `moved-${email}` }, headers: asFresh })).response.status, 202)
const exported = await client.GET('/users/me/export', { headers: asFresh })
expect('GET /users/me/export', exported.response.status, 200)
if (exported.data?.user.email !== email) throw new Error('GET /users/me/export is someone else\'s')

const totp = await client.POST('/users/me/totp', { headers: asFresh })
expect('POST /users/me/totp', totp.response.status, 200)
if (totp.data?.otpauth_url.startsWith('otpauth://totp/Bookstore:') !== true) throw new Error('POST /users/me/totp answered no otpauth URL')
const wrongCode = await client.POST('/users/me/totp/confirm', { body: { code: '000000' }, headers: asFresh })
expect('POST /users/me/totp/confirm (a wrong code)', wrongCode.response.status, 400)
expectCode('POST /users/me/totp/confirm (a wrong code)', wrongCode.error?.code, 'MFA_CODE_INVALID')
expect('DELETE /users/me/totp (pending)', (await client.DELETE('/users/me/totp', { body: { password: newPassword, code: '000000' }, headers: asFresh })).response.status, 204)

const creation = await client.POST('/users/me/passkeys/options', { body: {}, headers: asFresh })
expect('POST /users/me/passkeys/options', creation.response.status, 200)
const madeUp = 'bWFkZS11cC1jcmVkZW50aWFs'
const register = await client.POST('/users/me/passkeys', {
  body: { name: 'Not a real authenticator', credential: { id: madeUp, rawId: madeUp, type: 'public-key', response: { clientDataJSON: 'e30', attestationObject: 'oA' }, clientExtensionResults: {} } },
  headers: asFresh
})
expect('POST /users/me/passkeys (does not verify)', register.response.status, 400)
expectCode('POST /users/me/passkeys (does not verify)', register.error?.code, 'PASSKEY_INVALID')
expect('GET /users/me/passkeys', (await client.GET('/users/me/passkeys', { headers: asFresh })).response.status, 200)
const noPasskey = await client.DELETE('/users/me/passkeys/{id}', { params: { path: { id: 'no-such-passkey' } }, headers: asFresh })
expect('DELETE /users/me/passkeys/{id} (unknown)', noPasskey.response.status, 404)
expectCode('DELETE /users/me/passkeys/{id} (unknown)', noPasskey.error?.code, 'PASSKEY_NOT_FOUND')
expect('POST /users/sign-in/passkey/options', (await client.POST('/users/sign-in/passkey/options', { body: {} })).response.status, 200)
const passkeySignIn = await client.POST('/users/sign-in/passkey', {
  body: { credential: { id: madeUp, rawId: madeUp, type: 'public-key', response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' }, clientExtensionResults: {} } }
})
expect('POST /users/sign-in/passkey (unknown credential)', passkeySignIn.response.status, 401)
expectCode('POST /users/sign-in/passkey (unknown credential)', passkeySignIn.error?.code, 'INVALID_CREDENTIALS')

const apiKey = await client.POST('/users/me/api-keys', { body: { name: 'client-check', expires_in_days: 1 }, headers: asFresh })
expect('POST /users/me/api-keys', apiKey.response.status, 201)
if (apiKey.data?.key.startsWith('bsk_') !== true) throw new Error('POST /users/me/api-keys answered no key')
const asKey = { Authorization: `Bearer ${apiKey.data.key}` }
expect('GET /users/me with the API key', (await client.GET('/users/me', { headers: asKey })).response.status, 200)
expect('GET /users/me/api-keys', (await client.GET('/users/me/api-keys', { headers: asFresh })).response.status, 200)
expect('DELETE /users/me/api-keys/{id}', (await client.DELETE('/users/me/api-keys/{id}', { params: { path: { id: apiKey.data.id } }, headers: asFresh })).response.status, 204)

const events = await client.GET('/audit-events', { params: { query: { user_id: userId, limit: 100 } }, headers: asAdmin })
expect('GET /audit-events', events.response.status, 200)
if (!(events.data ?? []).some((event) => event.type === 'api_key.revoked')) throw new Error('GET /audit-events lists no api_key.revoked')
const chain = await client.GET('/audit-events/verify', { headers: asAdmin })
expect('GET /audit-events/verify', chain.response.status, 200)
if (chain.data?.valid !== true) throw new Error('the audit chain does not verify')

const other2 = await client.POST('/users', { body: { email: `client-other-${Date.now()}@example.com`, password } })
expect('POST /users (another)', other2.response.status, 201)
expect('DELETE /users/{id}', (await client.DELETE('/users/{id}', { params: { path: { id: other2.data?.id ?? 0 } }, headers: asAdmin })).response.status, 204)
expect('DELETE /users/me', (await client.DELETE('/users/me', { body: { password: newPassword }, headers: asFresh })).response.status, 204)
const gone = await client.GET('/users/me', { headers: asFresh })
expect('GET /users/me after leaving', gone.response.status, 401)
expectCode('GET /users/me after leaving', gone.error?.code, 'TOKEN_REVOKED')

const anonymous = await client.POST('/books', { body })
expect('POST /books without a token', anonymous.response.status, 401)
expectCode('POST /books without a token', anonymous.error?.code, 'TOKEN_REQUIRED')

// Every operation of the document was called above (compiled into client-check/dist/, two levels down).
const doc = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as { paths: Record<string, Record<string, unknown>> }
const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`))
const uncalled = operations.filter((op) => !called.has(op))
if (uncalled.length > 0) throw new Error(`operations this program does not call: ${uncalled.join(', ')}`)
console.log(`ok all ${operations.length} operations called`)
