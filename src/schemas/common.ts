import { Type, type Static, type TSchema } from '@sinclair/typebox'

/** The largest id a path, a query or a body may name (SQL INT). */
export const MAX_ID = 2147483647

/** A review id: an ObjectId's 24 lower-case hex digits, on every backend. */
const OBJECT_ID_PATTERN = '^[0-9a-f]{24}$'
const OBJECT_ID = new RegExp(OBJECT_ID_PATTERN)
export const isObjectId = (id: unknown): id is string => typeof id === 'string' && OBJECT_ID.test(id)

export const Id = (options: { description?: string } = {}) => Type.Integer({ minimum: 1, maximum: MAX_ID, ...options })
export const ObjectIdString = (options: { description?: string } = {}) => Type.String({ pattern: OBJECT_ID_PATTERN, ...options })

export const IdParams = Type.Object({ id: Id({ description: 'Numeric id' }) })
export const ReviewIdParams = Type.Object({ id: ObjectIdString({ description: '24 hex digits' }) })

/** The Idempotency-Key header's own rule: 1 to 255 visible ASCII characters. */
const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7E]{1,255}$'

/** The opt-in header of idempotent creation (plugins/app/idempotency.ts). */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    pattern: IDEMPOTENCY_KEY_PATTERN,
    description: '1 to 255 visible ASCII characters. Within 24 hours a repeat with the same key and body creates nothing ' +
      'and answers the first success again, with `Idempotent-Replayed: true`'
  }))
})

/**
 * Conditional requests (src/http/representation.ts). Any text is accepted, as the service
 * always has: a tag that is weak where a strong one is needed, or malformed, matches nothing,
 * it is never a 400.
 */
export const IfNoneMatchHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({
    description: 'ETags this client holds (comma-separated), or `*`: when one is the current ETag the answer is 304 with no body. ' +
      'Compared weakly (`W/"x"` matches `"x"`)'
  }))
})

export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({
    description: 'The ETag this change is based on (several may be listed, comma-separated), or `*` (any current version): unless it ' +
      'lists the current ETag the answer is 412 PRECONDITION_FAILED and nothing changes; the check and the write are one step. ' +
      'Compared strongly: a weak (`W/`) or unquoted tag matches nothing. Without it the change is unconditional'
  }))
})

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC' })

const Offset = Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_ID, default: 0, description: 'Offset' }))
const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Page length (default: PAGE_SIZE)' }))
const Query = Type.Optional(Type.String({ maxLength: 255, description: 'Case-insensitive plain substring' }))

/** `o` and `limit` as the contract pages them; `limit` defaults to the configured page size. */
export const PageQuery = Type.Object({ o: Offset, limit: Limit, q: Query }, { additionalProperties: false })

/** Books also page by key: `after` an id, never together with `o`. */
export const KeysetPageQuery = Type.Object({
  o: Offset,
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_ID, description: 'Only books whose id is greater (not with `o`)' })),
  limit: Limit,
  q: Query
}, { additionalProperties: false })

export const Status = Type.Object({ status: Type.Literal('ok') }, { $id: 'Status', title: 'Status' })

/** Each configured backing service by name (mysql, mongodb, redis, sqlite, memory), up or down. */
export const ServiceStates = Type.Record(Type.String(), Type.Unsafe<'up' | 'down'>({ type: 'string', enum: ['up', 'down'] }), {
  description: 'Each configured backing service, "up" or "down"'
})

export const Readiness = Type.Object({ status: Type.Literal('ok'), services: ServiceStates }, { $id: 'Readiness', title: 'Readiness' })
export type Readiness = Static<typeof Readiness>

/** A response header as the OpenAPI document shows it (@fastify/swagger reads `headers`). */
export interface HeaderDoc { type: 'string', description: string }

/** The header every 201 answers with. */
export const LOCATION: Record<string, HeaderDoc> = { Location: { type: 'string', description: 'The URL of the created resource' } }

/** The ETag every answer with a book or review body carries. */
export const ETAG: Record<string, HeaderDoc> = {
  ETag: { type: 'string', description: 'Strong; send it in If-None-Match (304) or If-Match (412 when it is no longer current)' }
}

/** What every cacheable answer carries (plugins/app/representation.ts). */
export const VALIDATORS: Record<string, HeaderDoc> = {
  ...ETAG,
  'Cache-Control': { type: 'string', description: 'no-cache: revalidate with If-None-Match' }
}

/** A list's answer: its validators and, when the page is full, the next page. */
export const PAGE_HEADERS: Record<string, HeaderDoc> = {
  ...VALIDATORS,
  Link: { type: 'string', description: 'On a full page: `<relative URL of the next page>; rel="next"`' }
}

/** 304 to a GET whose If-None-Match lists the current ETag: its validators, no body. */
export const NotModified = Type.Null({ description: 'Not modified: If-None-Match lists the current ETag (no body)', headers: VALIDATORS })

/**
 * A response by reference to a named schema (one that src/app.ts registers with addSchema),
 * with the sentence and headers the docs show for it. Serialization follows the reference, so
 * the component is both the documentation and the guard on what leaves.
 */
export function ref<T extends TSchema> (schema: T, description: string, headers?: Record<string, HeaderDoc>) {
  return Type.Unsafe<Static<T>>(Type.Ref(idOf(schema), { description, ...(headers === undefined ? {} : { headers }) }))
}

/** A page of a named schema, by reference. */
export function listOf<T extends TSchema> (schema: T, description: string, headers?: Record<string, HeaderDoc>) {
  return Type.Array(Type.Unsafe<Static<T>>(Type.Ref(idOf(schema))), { description, ...(headers === undefined ? {} : { headers }) })
}

/** The name of a shared schema; one without a name is a mistake found at start-up. */
export function idOf (schema: TSchema): string {
  if (schema.$id === undefined) throw new Error('a reference needs a schema with an $id')
  return schema.$id
}
