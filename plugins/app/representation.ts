import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'
import type { Representation } from '../../src/services/representation'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Sends a representation's bytes as they are (no serialization), with its ETag,
     * `Cache-Control: no-cache` and, for a full page, `Link: <next>; rel="next"`. On a GET,
     * an If-None-Match that lists the ETag (or `*`) answers 304 without a body instead.
     */
    sendRepresentation (rep: Representation): FastifyReply
  }
  interface FastifyRequest {
    /** The If-Match header, parsed: undefined (absent), '*', or the strong ETags it lists. */
    readonly ifMatch: '*' | string[] | undefined
  }
}

const JSON_TYPE = 'application/json; charset=utf-8'

/** Entity tags of an If-None-Match / If-Match list, `W/` kept (If-Match compares strongly). */
const tagsOf = (header: string): string[] => header.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '')

/** If-None-Match compares weakly: W/"x" matches "x". */
export function noneMatch (header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  if (header === etag || header.trim() === '*') return true
  return tagsOf(header).some((tag) => (tag.startsWith('W/') ? tag.slice(2) : tag) === etag)
}

/** If-Match compares strongly: a weak tag never matches. */
export function parseIfMatch (header: string | undefined): '*' | string[] | undefined {
  if (header === undefined) return undefined
  if (header.trim() === '*') return '*'
  return tagsOf(header).filter((tag) => !tag.startsWith('W/'))
}

/** Conditional requests (the contract's "Caching and conditional requests") for every route. */
export default fp(async function representationPlugin (fastify) {
  fastify.decorateReply('sendRepresentation', function sendRepresentation (this: FastifyReply, rep: Representation): FastifyReply {
    this.header('etag', rep.etag)
    this.header('cache-control', 'no-cache')
    if (rep.next !== undefined) this.header('link', `<${rep.next}>; rel="next"`)
    const method = this.request.method
    if ((method === 'GET' || method === 'HEAD') && noneMatch(this.request.headers['if-none-match'], rep.etag)) {
      return this.code(304).send()
    }
    return this.type(JSON_TYPE).send(rep.body)
  })
  fastify.decorateRequest('ifMatch', {
    getter () {
      const header = this.headers['if-match']
      return parseIfMatch(Array.isArray(header) ? header.join(',') : header)
    }
  })
}, { name: 'representation' })
