import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { SwaggerOptions } from '@fastify/swagger'
import { projectRoot } from '../../config/paths'
import { isDeepStrictEqual } from 'node:util'
import { catalogueExample, documentedErrors, REFUSES_UNVERIFIED, type OperationCode } from './errors'

/** The document's version is the package's: a client knows which release it was generated from. */
const VERSION = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version

const pascal = (word: string): string => word.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')

/**
 * An operation's name for generated clients, from its method and path unless the route names
 * it (`schema.operationId`): GET /books/:id/reviews → getBooksByIdReviews, POST /users/sign-in
 * → postUsersSignIn, GET / → getRoot. Unique, since a method and a path are.
 */
function operationIdFor (method: string, url: string): string {
  const parts = url.split('/').filter(Boolean).map((part) => (part.startsWith(':') ? `By${pascal(part.slice(1))}` : pascal(part)))
  return `${method.toLowerCase()}${parts.length === 0 ? 'Root' : parts.join('')}`
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'options', 'head', 'trace']

const sortedEntries = <T>(record: Record<string, T>, order: (a: string, b: string) => number): Record<string, T> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => order(a, b)))

/**
 * Paths (and the methods in each) and component schemas in a fixed order. Otherwise the order
 * is the routes' registration order, which follows readdir and so differs between file
 * systems; docs/openapi.json must be the same text on every machine.
 */
function canonical<T extends { paths?: object, components?: { schemas?: object } }> (doc: T): T {
  const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
  const byMethod = (a: string, b: string): number => METHODS.indexOf(a) - METHODS.indexOf(b)
  const paths = doc.paths === undefined
    ? undefined
    : Object.fromEntries(Object.entries(sortedEntries(doc.paths as Record<string, Record<string, unknown>>, byName))
      .map(([path, ops]) => [path, sortedEntries(ops, byMethod)]))
  const schemas = doc.components?.schemas === undefined ? undefined : sortedEntries(doc.components.schemas as Record<string, unknown>, byName)
  return {
    ...doc,
    ...(paths === undefined ? {} : { paths }),
    ...(schemas === undefined ? {} : { components: { ...doc.components, schemas } })
  }
}

interface MediaDoc { examples?: Record<string, { summary?: string, value?: unknown } | { $ref: string }> }
interface OperationDoc { operationId?: string, responses?: Record<string, { content?: Record<string, MediaDoc> }> }

/**
 * Error examples once each, in components.examples, by reference from every response that
 * shows them: most are the same few answers on every operation. One is named by its code when
 * it is the catalogue's example of it, else by its code and the first operation showing it.
 */
function shareExamples<T extends { paths?: object, components?: object }> (doc: T): T {
  const shared: Array<{ name: string, example: { summary?: string, value?: unknown } }> = []
  for (const ops of Object.values((doc.paths ?? {}) as Record<string, Record<string, OperationDoc>>)) {
    for (const op of Object.values(ops)) {
      for (const response of Object.values(op.responses ?? {})) {
        for (const media of Object.values(response.content ?? {})) {
          for (const [code, example] of Object.entries(media.examples ?? {})) {
            if (!('value' in example)) continue
            let found = shared.find((s) => isDeepStrictEqual(s.example, example))
            if (found === undefined) {
              const name = isDeepStrictEqual(example.value, catalogueExample(code as OperationCode)) ? code : `${code}.${op.operationId ?? ''}`
              found = { name, example }
              shared.push(found)
            }
            media.examples![code] = { $ref: `#/components/examples/${found.name}` }
          }
        }
      }
    }
  }
  if (shared.length === 0) return doc
  const examples = Object.fromEntries(shared.map((s) => [s.name, s.example]).sort(([a], [b]) => String(a) < String(b) ? -1 : 1))
  return { ...doc, components: { ...doc.components, examples } }
}

/**
 * A route's path as clients and the document name it: autoloaded `/` routes are registered as
 * `/books/`; the service answers both.
 */
export const publicPath = (url: string): string => (url.length > 1 ? url.replace(/\/$/, '') : url)

/**
 * The options @fastify/swagger builds the OpenAPI 3 document with, from the route schemas:
 * names, order and the parts no route states. Protected routes declare
 * `security: [{ bearerAuth: [] }]` themselves.
 */
export const OPENAPI_OPTIONS: SwaggerOptions = {
  // Shared schemas keep their $id as their name in components (ErrorResponse, Book...).
  refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  // Every operation gets an operationId, and a route that declares no security says so
  // (`security: []`), so a client knows it needs no token. Its error statuses list the codes it
  // can answer, with an example of each (src/http/errors.ts).
  transform: ({ schema, url, route }) => {
    const path = publicPath(url)
    if (schema === undefined || (schema as { hide?: boolean }).hide === true) return { schema, url: path }
    const method = [route.method].flat()[0] ?? 'GET'
    const security = schema.security ?? []
    const response = documentedErrors(schema.response as Record<string, unknown> | undefined, {
      method,
      secured: security.length > 0,
      refusesUnverified: [route.onRequest ?? []].flat().some((hook) => (hook as { [REFUSES_UNVERIFIED]?: boolean })[REFUSES_UNVERIFIED] === true),
      rateLimited: (route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== undefined,
      requiredField: (schema.body as { required?: string[] } | undefined)?.required?.[0]
    })
    return {
      schema: { ...schema, operationId: (schema as { operationId?: string }).operationId ?? operationIdFor(method, path), security, response },
      url: path
    }
  },
  transformObject: (documentObject) => ('openapiObject' in documentObject
    ? shareExamples(canonical(documentObject.openapiObject))
    : canonical(documentObject.swaggerObject)),
  openapi: {
    openapi: '3.0.3',
    info: {
      title: 'Bookstore API',
      version: VERSION,
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      description: 'Books, their reviews, and users who sign in for a JWT whose permission level ' +
        '(0 None, 1 User, 2 Author, 3 Admin) is checked on every write. Sign up with `POST /users`, ' +
        'sign in with `POST /users/sign-in`, and paste the token into **Authorize**: the routes with a ' +
        'lock need it. The level checked is the one stored now, and the token\'s session must be live. ' +
        'Renew the pair with `POST /users/refresh`; end sessions with `POST /users/sign-out` or ' +
        '`DELETE /users/me/sessions`. Every error answers one shape (`ErrorResponse`) with a stable `code`.'
    },
    // Relative: the explorer and clients call the host that served the document.
    servers: [{ url: '/', description: 'This service (the host that serves this document)' }],
    tags: [
      { name: 'books', description: 'The catalogue: anyone reads, Authors write' },
      { name: 'reviews', description: 'Reviews: Users write; the writer or an Admin edits and deletes' },
      { name: 'users', description: 'Sign-up, sign-in, sessions, passwords and permission levels' },
      { name: 'audit', description: 'The audit log of security-relevant events, hash-chained (Admin)' },
      { name: 'health', description: 'Liveness and readiness probes' }
    ],
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from POST /users/sign-in, or an API key (bsk_...) from POST /users/me/api-keys' }
      }
    }
  }
}
