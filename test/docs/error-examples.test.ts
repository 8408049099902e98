import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { ERROR_CODES, ERROR_STATUS, type ErrorCode } from '../../src/domain/errors'
import { IdempotencyHeaders, IfMatchHeaders, IfNoneMatchHeaders } from '../../src/schemas/common'
import { ADMIN, SAMPLE_BOOK, bearer, build, signIn, userWith } from '../support/app'

/**
 * The OpenAPI document's error examples and conditional-request headers, against the catalogue
 * and against what the running service answers.
 */

interface Example { summary?: string, value: Record<string, unknown> & { statusCode?: number, code?: string } }
interface Response { description?: string, content?: Record<string, { examples?: Record<string, Example | { $ref: string }> }> }
interface Parameter { in: string, name: string, required?: boolean, schema?: Record<string, unknown> }
interface Operation { parameters?: Parameter[], responses: Record<string, Response> }
interface Document { paths: Record<string, Record<string, Operation>>, components: { examples?: Record<string, Example> } }

/** A response's examples by code, each shared one read from components.examples. */
const examplesIn = (doc: Document) => (response: Response | undefined): Record<string, Example> =>
  Object.fromEntries(Object.entries(response?.content?.['application/json']?.examples ?? {}).map(([code, example]) => {
    const shared = '$ref' in example ? doc.components.examples?.[example.$ref.replace('#/components/examples/', '')] : example
    if (shared === undefined) throw new Error(`${code}: ${JSON.stringify(example)} names no shared example`)
    return [code, shared]
  }))

async function documentOf (app: FastifyInstance): Promise<Document> {
  return (await app.inject({ url: '/docs/json' })).json<Document>()
}

const operations = (doc: Document) => Object.entries(doc.paths).flatMap(([path, ops]) =>
  Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method, path, op })))

t.test('every error example is an answer of its status, from the catalogue', async (t) => {
  const app = await build(t)
  const doc = await documentOf(app)
  const examplesOf = examplesIn(doc)
  for (const { key, op } of operations(doc)) {
    for (const [status, response] of Object.entries(op.responses).filter(([s]) => Number(s) >= 400)) {
      const examples = examplesOf(response)
      t.ok(Object.keys(examples).length > 0, `${key} ${status}: at least one example`)
      for (const [name, { value }] of Object.entries(examples)) {
        t.equal(value.statusCode, Number(status), `${key} ${status} ${name}: statusCode is the response's status`)
        t.equal(value.code, name, `${key} ${status} ${name}: keyed by its code`)
        t.ok(ERROR_CODES.includes(value.code as ErrorCode), `${key} ${status} ${name}: a code of the catalogue`)
        // The contract's one exception: a wrong code at TOTP confirm is 400 (mfaCodeInvalid's `status`).
        const exception = key === 'POST /users/me/totp/confirm' && value.code === 'MFA_CODE_INVALID' ? 400 : undefined
        t.equal(exception ?? ERROR_STATUS[value.code as ErrorCode], Number(status), `${key} ${status} ${name}: the catalogue's status for it`)
        t.match(value, { error: String, message: String }, `${key} ${status} ${name}: the one error shape`)
      }
      // The description names exactly the codes the examples show.
      const named = [...(response.description ?? '').matchAll(/`([A-Z][A-Z_]+)`/g)].map((m) => m[1])
      t.same(named.sort(), Object.keys(examples).sort(), `${key} ${status}: its description lists exactly its codes`)
    }
  }
})

t.test('the codes the service answers are the ones listed, with the example\'s body', async (t) => {
  const app = await build(t)
  const doc = await documentOf(app)
  const examplesOf = examplesIn(doc)
  const listed = (path: string, method: string, status: number): Record<string, Example> =>
    examplesOf(doc.paths[path]?.[method]?.responses[String(status)])

  /** The answer is listed for its operation and status, and its example is this very body. */
  const answers = (res: LightMyRequestResponse, path: string, method: string, status: number, code: ErrorCode, sameBody = true): void => {
    t.equal(res.statusCode, status, `${method.toUpperCase()} ${path}: ${status}`)
    const body = res.json<{ code: string }>()
    t.equal(body.code, code)
    const example = listed(path, method, status)[code]
    t.ok(example, `${method.toUpperCase()} ${path} lists ${status} ${code}`)
    if (sameBody) t.same(example?.value, body, `${method.toUpperCase()} ${path} ${code}: the example is what the service sends`)
  }

  const signInPath = '/users/sign-in'
  answers(await app.inject({ method: 'POST', url: signInPath, payload: { email: ADMIN.email, password: 'not the password at all' } }),
    signInPath, 'post', 401, 'INVALID_CREDENTIALS')
  answers(await app.inject({ method: 'POST', url: signInPath, payload: { email: ADMIN.email } }), signInPath, 'post', 400, 'VALIDATION_ERROR', false)
  answers(await app.inject({ method: 'POST', url: signInPath, headers: { 'content-type': 'text/plain' }, payload: 'x' }),
    signInPath, 'post', 415, 'UNSUPPORTED_MEDIA_TYPE')
  // Sign-in needs no token and checks no new password: those codes are not its answers.
  for (const code of ['TOKEN_REQUIRED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'REFRESH_TOKEN_INVALID'] as const) {
    t.notOk(listed(signInPath, 'post', 401)[code], `sign-in does not list ${code}`)
  }
  t.notOk(listed(signInPath, 'post', 400).PASSWORD_TOO_COMMON, 'sign-in does not list PASSWORD_TOO_COMMON')
  t.notOk(doc.paths[signInPath]?.post?.responses['403'], 'sign-in has no 403')
  t.match(doc.paths[signInPath]?.post?.responses['401']?.description, /INVALID_CREDENTIALS/)
  t.notMatch(doc.paths[signInPath]?.post?.responses['401']?.description, /TOKEN_/)

  const author = await userWith(app, 2)
  const created = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })
  t.equal(created.statusCode, 201)
  const url = `/books/${created.json<{ id: number }>().id}`
  const etag = String(created.headers.etag)
  answers(await app.inject({ method: 'PUT', url, headers: { ...bearer(author.token), 'if-match': '"stale"' }, payload: SAMPLE_BOOK }),
    '/books/{id}', 'put', 412, 'PRECONDITION_FAILED')
  answers(await app.inject({ method: 'DELETE', url, headers: { ...bearer(author.token), 'if-match': `W/${etag}` } }),
    '/books/{id}', 'delete', 412, 'PRECONDITION_FAILED')
  answers(await app.inject({ method: 'PUT', url, payload: SAMPLE_BOOK }), '/books/{id}', 'put', 401, 'TOKEN_REQUIRED')
  answers(await app.inject({ url: '/books/2147483647' }), '/books/{id}', 'get', 404, 'BOOK_NOT_FOUND')
  answers(await app.inject({ url: '/books?o=1&after=1' }), '/books', 'get', 400, 'VALIDATION_ERROR')
  t.equal((await app.inject({ url, headers: { 'if-none-match': etag } })).statusCode, 304, 'If-None-Match: 304')
  t.ok(doc.paths['/books/{id}']?.get?.responses['304'], 'GET /books/{id} documents 304')
  t.notOk(listed('/books/{id}', 'get', 401).TOKEN_REQUIRED, 'a public read lists no token code')

  const admin = await signIn(app, ADMIN.email, ADMIN.password)
  const me = await app.inject({ url: '/users/me', headers: bearer(admin) })
  answers(await app.inject({ method: 'PATCH', url: `/users/${me.json<{ id: number }>().id}`, headers: bearer(admin), payload: { permission: 1 } }),
    '/users/{id}', 'patch', 409, 'CANNOT_LOWER_OWN_PERMISSION')
  answers(await app.inject({ method: 'PUT', url: '/users/me/password', headers: bearer(author.token), payload: { current_password: 'wrong wrong wrong', new_password: 'another long passphrase' } }),
    '/users/me/password', 'put', 401, 'INVALID_CREDENTIALS')
})

t.test('If-Match and If-None-Match are optional header parameters of the operations that answer them', async (t) => {
  const app = await build(t)
  const doc = await documentOf(app)
  const examplesOf = examplesIn(doc)
  const conditional: Record<string, 'if-match' | 'if-none-match'> = {
    'GET /books': 'if-none-match',
    'GET /books/{id}': 'if-none-match',
    'GET /books/{id}/reviews': 'if-none-match',
    'GET /reviews/{id}': 'if-none-match',
    'PUT /books/{id}': 'if-match',
    'DELETE /books/{id}': 'if-match',
    'PUT /reviews/{id}': 'if-match',
    'DELETE /reviews/{id}': 'if-match'
  }
  for (const { key, op } of operations(doc)) {
    const headers = (op.parameters ?? []).filter((p) => p.in === 'header')
    const wanted = conditional[key]
    for (const name of ['if-match', 'if-none-match']) {
      const param = headers.find((p) => p.name === name)
      if (name !== wanted) {
        t.notOk(param, `${key}: no ${name}`)
        continue
      }
      t.equal(param?.required, false, `${key}: ${name} is optional`)
      // Any text, as the service accepts: no pattern may turn a weak or malformed tag into a 400.
      t.same(param?.schema, { type: 'string' }, `${key}: ${name} is a plain string`)
    }
    if (wanted === 'if-match') t.ok(op.responses['412'] && examplesOf(op.responses['412']).PRECONDITION_FAILED, `${key}: 412 PRECONDITION_FAILED`)
    if (wanted === 'if-none-match') t.ok(op.responses['304'], `${key}: 304`)
  }
  t.ok(doc.paths['/books']?.post?.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key'), 'POST /books keeps Idempotency-Key')
  // One headers schema per route: no route needs two of them.
  for (const schema of [IfMatchHeaders, IfNoneMatchHeaders, IdempotencyHeaders]) t.equal(Object.keys(schema.properties).length, 1)
})

t.test('declaring the conditional headers turns no answer into a 400', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const created = await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })
  const url = `/books/${created.json<{ id: number }>().id}`
  const etag = String(created.headers.etag)
  for (const header of ['', 'garbage', 'W/', '"', etag.slice(1), ', ,', 'x'.repeat(4000)]) {
    const read = await app.inject({ url, headers: { 'if-none-match': header } })
    t.equal(read.statusCode, 200, `GET If-None-Match: ${JSON.stringify(header.slice(0, 20))} → 200`)
    const write = await app.inject({ method: 'PUT', url, headers: { ...bearer(author.token), 'if-match': header }, payload: SAMPLE_BOOK })
    t.equal(write.statusCode, 412, `PUT If-Match: ${JSON.stringify(header.slice(0, 20))} → 412`)
  }
  const fresh = await app.inject({ url })
  t.equal((await app.inject({ method: 'PUT', url, headers: { ...bearer(author.token), 'if-match': String(fresh.headers.etag) }, payload: SAMPLE_BOOK })).statusCode, 200)
  // The idempotency header keeps its own rule on POST.
  const badKey = await app.inject({ method: 'POST', url: '/books', headers: { ...bearer(author.token), 'idempotency-key': 'has space' }, payload: SAMPLE_BOOK })
  t.equal(badKey.statusCode, 400)
  t.match(badKey.json(), { code: 'VALIDATION_ERROR', details: [{ path: '/idempotency-key' }] })
})
