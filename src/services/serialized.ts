import { createHash } from 'node:crypto'
import fastJson from 'fast-json-stringify'
import type { TSchema } from '@sinclair/typebox'
import { COMPONENTS } from '../schemas/components'

/**
 * A resource as it leaves the service: its JSON bytes and their strong tag (a digest that
 * changes whenever the bytes do). Made once per write or cache fill, so a cached read passes
 * bytes along without parsing or serializing anything.
 */
export interface Serialized {
  body: Buffer
  tag: string
}

/** Where the page after a full one starts: after an id (keyset) or at an offset. */
type PageCursor = { after: number } | { offset: number }

export interface SerializedPage extends Serialized {
  /** Set when the page is full: the next one may hold more. */
  next?: PageCursor | undefined
}

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

/** base64url: no quote, comma, tab or newline, so it can be quoted, listed and stored on one line. */
const tagOf = (body: Buffer): string => createHash('sha1').update(body).digest('base64url')

export function serialized (json: string): Serialized {
  const body = Buffer.from(json)
  return { body, tag: tagOf(body) }
}
