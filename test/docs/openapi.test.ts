import type { FastifyInstance, InjectOptions, LightMyRequestResponse, RouteOptions } from 'fastify'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../config/paths'
import { ERROR_CODES, ERROR_STATUS, type ErrorCode } from '../../src/domain/errors'
import { buildApp } from '../../src/build'
import { ADMIN, signIn, signUp, testConfig } from '../support/app'

interface Schema { $ref?: string, type?: string }
interface Parameter { in: string, name: string, required?: boolean, schema?: Schema & Record<string, unknown> }
interface Response {
  description?: string
  headers?: Record<string, unknown>
  content?: Record<string, { schema?: Schema, examples?: Record<string, { value?: { code?: string } }> }>
}
interface Operation {
  tags?: string[]
  summary?: string
  operationId?: string
  security?: Array<Record<string, string[]>>
  parameters?: Parameter[]
  requestBody?: { content?: Record<string, { schema?: Schema, example?: unknown }> }
  responses: Record<string, Response>
}
interface Document {
  openapi: string
  info: { title?: string, version?: string }
  servers?: Array<{ url: string }>
  tags?: Array<{ name: string, description?: string }>
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown>, examples?: Record<string, unknown>, securitySchemes: Record<string, { type?: string, scheme?: string }> }
}

/** A route the app registered, and its operation in the document (undefined: undocumented). */
interface Entry { key: string, method: string, path: string, route: RouteOptions, op: Operation | undefined }

const ERROR_REF = '#/components/schemas/ErrorResponse'

/** The app as server.ts builds it, with every route it registers recorded on the way. */
async function buildRecorded (): Promise<{ fastify: FastifyInstance, routes: RouteOptions[] }> {
  // Every route is called with a fresh session of its own: more sign-ins than a minute's limit of one address.
  const fastify = buildApp(testConfig({ authRateLimit: 10_000 }))
  const routes: RouteOptions[] = []
  fastify.addHook('onRoute', (route) => {
    // The explorer's own routes are hidden from the document; HEAD mirrors GET.
    if (!route.url.startsWith('/docs') && route.method !== 'HEAD') routes.push(route)
  })
  await fastify.ready()
  return { fastify, routes }
}

function entriesOf (routes: RouteOptions[], doc: Document): Entry[] {
  const entries = new Map<string, Entry>()
  for (const route of routes) {
    // `/books/` (autoload's form) and `/books` are one route to a client.
    const url = route.url.length > 1 ? route.url.replace(/\/$/, '') : route.url
    const path = url.replace(/:(\w+)/g, '{$1}')
    for (const method of [route.method].flat()) {
      const key = `${method} ${path}`
      if (!entries.has(key)) entries.set(key, { key, method, path, route, op: doc.paths[path]?.[method.toLowerCase()] })
    }
  }
  return [...entries.values()]
}

/** What the route itself declares: its hooks, its config and its schema. */
function facts (route: RouteOptions) {
  const schema = (route.schema ?? {}) as { params?: unknown, querystring?: unknown, body?: unknown }
  return {
    guarded: [route.onRequest ?? []].flat().some((hook) => hook.name === 'permissionHook'),
    rateLimited: (route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== undefined,
    hasParams: schema.params !== undefined,
    hasBody: schema.body !== undefined,
    hasInput: schema.params !== undefined || schema.querystring !== undefined || schema.body !== undefined
  }
}

/** Methods whose requests Fastify reads a body for, with or without a body schema. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * What a route can answer by the error handler's and the plugins' rules, derived from the
 * route itself, each with the reason (for the failure message): a code where the rule fixes
 * it, else a status (404's code depends on what the route looks up).
 */
function requiredAnswers (route: RouteOptions): Array<{ status: number, code?: ErrorCode, why: string }> {
  const f = facts(route)
  const methods = [route.method].flat()
  const rules: Array<[boolean, ErrorCode[] | number, string]> = [
    [true, ['VALIDATION_ERROR', 'URI_TOO_LONG'], 'any URL can be malformed or too long'],
    [true, ['INTERNAL_ERROR'], 'any route can fail inside'],
    [true, ['SERVICE_UNAVAILABLE'], 'any route is refused while the service shuts down'],
    [f.guarded, ['TOKEN_REQUIRED', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'TOKEN_REVOKED', 'FORBIDDEN'], 'a permission hook guards it'],
    [f.hasParams, 404, 'it looks up an id'],
    [methods.some((m) => BODY_METHODS.has(m)), ['INVALID_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'], 'its method carries a body'],
    [f.rateLimited, ['RATE_LIMITED'], 'it is rate limited']
  ]
  return rules.filter(([applies]) => applies).flatMap(([, what, why]) => (typeof what === 'number'
    ? [{ status: what, why }]
    : what.map((code) => ({ status: ERROR_STATUS[code], code, why }))))
}

const examplesOf = (op: Operation, status: number) => op.responses[String(status)]?.content?.['application/json']?.examples

function missingAnswers (route: RouteOptions, op: Operation): string[] {
  return requiredAnswers(route)
    .filter(({ status, code }) => op.responses[String(status)] === undefined || (code !== undefined && examplesOf(op, status)?.[code] === undefined))
    .map(({ status, code, why }) => `${status} ${code ?? ''} (${why})`)
}

/** Every `$ref` anywhere in the document. */
function refsIn (value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((item) => refsIn(item, out))
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') out.push(item)
      else refsIn(item, out)
    }
  }
  return out
}

/** A path with each parameter set to an id no row has, in the parameter's own type. */
function urlFor (entry: Entry): string {
  return entry.path.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const param = entry.op?.parameters?.find((p) => p.in === 'path' && p.name === name)
    return param?.schema?.type === 'integer' ? '999999' : '0'.repeat(24)
  })
}

/**
 * The one error shape: a reference to ErrorResponse, or to a component that is ErrorResponse
 * plus fields (allOf), as readiness's 503 is.
 */
function errorShapeIn (doc: Document): (schema: Schema | undefined) => boolean {
  return (schema) => {
    if (schema?.$ref === ERROR_REF) return true
    const name = schema?.$ref?.replace('#/components/schemas/', '')
    const component = name === undefined ? undefined : doc.components.schemas[name] as { allOf?: Schema[] } | undefined
    return component?.allOf?.some((part) => part.$ref === ERROR_REF) === true
  }
}

const exampleOf = (op: Operation): unknown => op.requestBody?.content?.['application/json']?.example

t.test('the OpenAPI document', async (t) => {
  const { fastify, routes } = await buildRecorded()
  t.teardown(() => fastify.close())

  const res = await fastify.inject({ url: '/docs/json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const doc = res.json<Document>()
  const entries = entriesOf(routes, doc)
  const isErrorShape = errorShapeIn(doc)
  t.ok(entries.length > 0, 'the app registered routes')

  t.test('is a well-formed OpenAPI 3 document', async (t) => {
    t.match(doc.openapi, /^3\.[01]\.\d+$/)
    t.match(doc.info, { title: String, version: String })
    t.match(doc.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } })
    t.ok(doc.components.schemas.ErrorResponse, 'one shared error schema, named ErrorResponse')
    const components = new Set([
      ...Object.keys(doc.components.schemas).map((name) => `#/components/schemas/${name}`),
      ...Object.keys(doc.components.examples ?? {}).map((name) => `#/components/examples/${name}`)
    ])
    const dangling = refsIn(doc).filter((ref) => !components.has(ref))
    t.same(dangling, [], 'every $ref names a schema or an example in components')

    const declaredTags = new Set((doc.tags ?? []).map((tag) => tag.name))
    const usedTags = new Set<string>()
    for (const tag of doc.tags ?? []) t.ok(tag.description, `tag ${tag.name} has a description`)
    for (const [path, ops] of Object.entries(doc.paths)) {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()
      for (const [method, op] of Object.entries(ops)) {
        const key = `${method.toUpperCase()} ${path}`
        for (const tag of op.tags ?? []) {
          usedTags.add(tag)
          t.ok(declaredTags.has(tag), `${key}: tag ${tag} is declared`)
        }
        const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path')
        t.same(pathParams.map((p) => p.name).sort(), templated, `${key}: declares exactly its path parameters`)
        t.ok(pathParams.every((p) => p.required === true), `${key}: path parameters are required`)
        for (const requirement of op.security ?? []) {
          for (const scheme of Object.keys(requirement)) t.ok(doc.components.securitySchemes[scheme], `${key}: security scheme ${scheme} exists`)
        }
        for (const [status, response] of Object.entries(op.responses)) {
          t.match(status, /^[1-5]\d\d$/, `${key}: ${status} is a status code`)
          t.ok(response.description !== undefined && response.description !== '' && response.description !== 'Default Response',
            `${key} ${status}: says what it means`)
        }
      }
    }
    t.same([...declaredTags].filter((tag) => !usedTags.has(tag)), [], 'every declared tag is used')
  })

  t.test('is what a generated client needs', async (t) => {
    const pkg = JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }
    t.equal(doc.info.version, pkg.version, 'info.version is the package version')
    t.ok((doc.servers ?? []).length > 0, 'a servers entry')
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId))
    t.ok(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]*$/.test(id)), 'every operation has an operationId')
    t.equal(new Set(ids).size, ids.length, 'operationIds are unique')
    const errorSchema = doc.components.schemas.ErrorResponse as { properties: { code: { enum?: string[] } } }
    t.same(errorSchema.properties.code.enum, [...ERROR_CODES], 'ErrorResponse.code is an enum of the contract\'s codes')
    for (const path of ['/books', '/books/{id}/reviews']) {
      const o = doc.paths[path]?.get?.parameters?.find((p) => p.name === 'o')
      t.match(o, { in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 2147483647, default: 0 } }, `${path}: o is optional, 0 by default`)
    }
  })

  t.test('documents every route of the app, and only those', async (t) => {
    for (const entry of entries) {
      t.ok(entry.op, `${entry.key} is documented`)
      if (entry.op === undefined) continue
      t.ok((entry.op.tags ?? []).length > 0, `${entry.key} has a tag`)
      t.ok((entry.op.summary ?? '') !== '', `${entry.key} has a summary`)
      t.equal(entry.op.requestBody !== undefined, facts(entry.route).hasBody, `${entry.key}: a request body exactly when the route takes one`)
    }
    const known = new Set(entries.map((e) => e.key))
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
    t.same(documented.filter((key) => !known.has(key)), [], 'the document has no route the app lacks')
  })

  t.test('documents every status each route can answer, in the one error shape', async (t) => {
    for (const { key, route, op } of entries) {
      if (op === undefined) continue
      const documented = Object.keys(op.responses).map(Number)
      t.ok(documented.some((s) => s >= 200 && s < 300), `${key} documents its success`)
      t.same(missingAnswers(route, op), [], `${key} documents every status and code its route can answer`)
      for (const status of documented.filter((s) => s >= 400)) {
        t.ok(isErrorShape(op.responses[String(status)]?.content?.['application/json']?.schema),
          `${key} ${status} is an ErrorResponse, or a component made of one and more fields`)
      }
      // 204 and the contract's 202s (a message is on its way) have no body.
      for (const status of documented.filter((s) => s >= 200 && s < 300 && s !== 204 && s !== 202)) {
        // A success body is a named component too, or a list of one: never a copy inlined.
        const schema = op.responses[String(status)]?.content?.['application/json']?.schema as (Schema & { items?: Schema }) | undefined
        const ref = schema?.$ref ?? (schema?.type === 'array' ? schema.items?.$ref : undefined)
        t.match(ref, /^#\/components\/schemas\/\w+$/, `${key} ${status} refers to a named schema`)
      }
      // The headers the contract promises, where a client needs them.
      const header = (status: number, name: string) => op.responses[String(status)] === undefined ||
        op.responses[String(status)]?.headers?.[name] !== undefined
      t.ok(header(201, 'Location'), `${key} 201 documents Location`)
      t.ok(header(401, 'WWW-Authenticate'), `${key} 401 documents WWW-Authenticate`)
      t.ok(header(429, 'Retry-After') && header(503, 'Retry-After'), `${key} 429/503 document Retry-After`)
      if (facts(route).hasBody) t.ok(exampleOf(op) !== undefined, `${key}: the request body has an example for "Try it out"`)
    }
  })

  t.test('the status check fails when any required status is left out', async (t) => {
    // The check above must not pass vacuously: leave out each required status in turn.
    for (const { key, route, op } of entries) {
      if (op === undefined) continue
      for (const status of new Set(requiredAnswers(route).map((answer) => answer.status))) {
        const { [String(status)]: _left, ...rest } = op.responses
        t.ok(missingAnswers(route, { ...op, responses: rest }).some((m) => m.startsWith(`${status} `)), `${key} without ${status} fails the check`)
      }
    }
  })

  t.test('security is declared exactly on the routes a permission hook guards', async (t) => {
    for (const entry of entries) {
      if (entry.op === undefined) continue
      const { guarded } = facts(entry.route)
      t.same(entry.op.security, guarded ? [{ bearerAuth: [] }] : [], `${entry.key}: ${guarded ? 'bearerAuth' : 'security: [] (no token needed)'}`)
      // And the service agrees: guarded routes refuse a missing token, the rest never ask for one.
      const probe = await fastify.inject({ method: entry.method as 'GET', url: urlFor(entry), ...(entry.op.requestBody === undefined ? {} : { payload: {} }) })
      if (guarded) t.equal(probe.statusCode, 401, `${entry.key} without a token is 401`)
      else t.not(probe.statusCode, 401, `${entry.key} without a token is not 401`)
    }
  })

  t.test('the running service answers no status, and omits no header, its document does not show', async (t) => {
    const user = await signUp(fastify)
    // Fresh sessions for each route: some routes (sign-out, DELETE /users/me/sessions) end the one they are called with.
    const freshTokens = async () => ({ user: await signIn(fastify, user.email, user.password), admin: await signIn(fastify, ADMIN.email, ADMIN.password) })
    let tokens = await freshTokens()
    const auth = (token: string) => ({ authorization: `Bearer ${token}` })

    const check = (entry: Entry, what: string, res: LightMyRequestResponse): void => {
      const response = entry.op?.responses[String(res.statusCode)]
      t.not(res.statusCode, 500, `${entry.key} ${what}: no internal error${res.statusCode === 500 ? ` (${res.body})` : ''}`)
      t.ok(response, `${entry.key} ${what}: answered ${res.statusCode}, which is documented`)
      if (res.statusCode >= 400) {
        // The code answered is one the document lists for that status, with an example.
        const code = res.json<{ code: string }>().code
        t.ok(response?.content?.['application/json']?.examples?.[code], `${entry.key} ${what}: ${res.statusCode} ${code} is listed`)
      }
      // Link is sent only on a full page (test/routes/conditional.test.ts follows it).
      for (const name of Object.keys(response?.headers ?? {}).filter((header) => header !== 'Link')) {
        t.ok(res.headers[name.toLowerCase()], `${entry.key} ${what}: ${res.statusCode} sends ${name}`)
      }
    }

    for (const entry of entries) {
      const { op } = entry
      if (op === undefined) continue
      tokens = await freshTokens()
      const base: InjectOptions = { method: entry.method as 'GET', url: urlFor(entry) }
      const example = exampleOf(op)
      const withBody = example === undefined ? {} : { payload: example as Record<string, unknown> }

      check(entry, 'without a token', await fastify.inject({ ...base, ...(op.requestBody === undefined ? {} : { payload: {} }) }))
      check(entry, 'with a malformed token', await fastify.inject({ ...base, headers: { authorization: 'Bearer not.a.token' }, ...withBody }))
      check(entry, 'as a User', await fastify.inject({ ...base, headers: auth(tokens.user), ...withBody }))
      const asAdmin = await fastify.inject({ ...base, headers: auth(tokens.admin), ...withBody })
      check(entry, 'as an Admin', asAdmin)
      // A valid body may still be refused for what it says (an example token is no live token: 400 *_TOKEN_INVALID).
      if (example !== undefined) t.not(asAdmin.statusCode === 400 ? asAdmin.json<{ code: string }>().code : '', 'VALIDATION_ERROR', `${entry.key}: the documented example is a valid body`)
      check(entry, 'as an Admin, again', await fastify.inject({ ...base, headers: auth(tokens.admin), ...withBody }))

      if (op.requestBody !== undefined) {
        const headers = auth(tokens.admin)
        const unknownField = await fastify.inject({ ...base, headers, payload: { not_a_field: true } })
        t.equal(unknownField.statusCode, 400, `${entry.key}: an unknown field is 400`)
        check(entry, 'with an unknown field', unknownField)
        const text = await fastify.inject({ ...base, headers: { ...headers, 'content-type': 'text/plain' }, payload: 'hello' })
        t.equal(text.statusCode, 415, `${entry.key}: text/plain is 415`)
        check(entry, 'with text/plain', text)
        const big = await fastify.inject({ ...base, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify({ title: 'x'.repeat(70_000) }) })
        t.equal(big.statusCode, 413, `${entry.key}: 70 KB is 413`)
        check(entry, 'with 70 KB', big)
      }
    }

    // With its database gone, a route that reaches a store answers 503 SERVICE_UNAVAILABLE, which
    // it lists (every route does: any can be shed or refused while shutting down). A fresh app,
    // so no cached page hides the store; the tokens are valid there (same secret).
    const down = await buildRecorded()
    t.teardown(() => down.fastify.close())
    await Promise.all(down.fastify.stores.backends.map((backend) => backend.close()))
    for (const entry of entriesOf(down.routes, doc)) {
      if (entry.op === undefined) continue
      const example = exampleOf(entry.op)
      const res = await down.fastify.inject({
        method: entry.method as 'GET',
        url: urlFor(entry),
        headers: auth(tokens.admin),
        ...(example === undefined ? {} : { payload: example as Record<string, unknown> })
      })
      check(entry, 'with the database down', res)
    }
  })
})

t.test('GET /docs serves the explorer page', async (t) => {
  const { fastify } = await buildRecorded()
  t.teardown(() => fastify.close())
  let res = await fastify.inject({ url: '/docs' })
  if (res.statusCode >= 300 && res.statusCode < 400) res = await fastify.inject({ url: String(res.headers.location) })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger-ui/i)
})
