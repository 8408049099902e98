import { createHash } from 'node:crypto'
import fastJson from 'fast-json-stringify'
import type { TSchema } from '@sinclair/typebox'
import { COMPONENTS } from '../schemas/components'

/**
 * A response body as it leaves: the bytes, their strong ETag and, for a full page, the
 * relative URL of the next one. Cached as such, so a cached read sends bytes without parsing
 * or serializing anything.
 */
export interface Representation {
  body: Buffer
  etag: string
  next?: string | undefined
}

/** A request's If-Match: absent, `*`, or the strong ETags it lists. */
export type Precondition = '*' | string[] | undefined

const components = Object.fromEntries(COMPONENTS.map((schema) => [schema.$id, schema]))

/**
 * A serializer compiled (fast-json-stringify, as Fastify compiles a route's) from the same
 * named schema the route declares as its response: the component documents the body and is
 * the guard on what leaves (a field it does not name, such as a store's `version` or
 * `user_id`, is never written).
 */
export function serializerFor<T> (schema: TSchema): (value: T) => string {
  return fastJson(schema, { schema: components }) as (value: T) => string
}

/** A strong ETag that changes whenever the bytes do. */
export const etagOf = (body: Buffer): string => `"${createHash('sha1').update(body).digest('base64url')}"`

export function represent (json: string, next?: string): Representation {
  const body = Buffer.from(json)
  return { body, etag: etagOf(body), next }
}

// Cached form: one header line, `<etag>\t<next>\n`, then the body. Neither an ETag (quoted
// base64url) nor a relative URL (percent-encoded) holds a tab or a newline.
const NEWLINE = 0x0a

export function encodeRepresentation ({ body, etag, next }: Representation): Buffer {
  return Buffer.concat([Buffer.from(`${etag}\t${next ?? ''}\n`, 'latin1'), body])
}

export function decodeRepresentation (stored: Buffer): Representation | undefined {
  const end = stored.indexOf(NEWLINE)
  if (end < 0) return undefined
  const header = stored.toString('latin1', 0, end)
  const tab = header.indexOf('\t')
  if (tab < 0) return undefined
  const next = header.slice(tab + 1)
  return { etag: header.slice(0, tab), next: next === '' ? undefined : next, body: stored.subarray(end + 1) }
}
