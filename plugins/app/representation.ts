import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'
import { JSON_CONTENT_TYPE } from '../../src/http/limits'
import { nextLink } from '../../src/http/links'
import type { Reread } from '../../src/http/hot-reads'
import { etag, noneMatch, parseIfMatch } from '../../src/http/representation'
import type { Expected } from '../../src/services/conditional-write'
import type { Serialized } from '../../src/services/serialized'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Sends a resource's serialized bytes as they are (no serialization), with its ETag,
     * `Cache-Control: no-cache` and, given the next page's URL, `Link: <next>; rel="next"`.
     * On a GET, an If-None-Match that lists the ETag (or `*`) answers 304 without a body instead.
     * `again`, the route's own read of the same representation (and its `peek`, the same read
     * answered at once where the cache can), lets a 200 to a GET be answered again before
     * Fastify while the tag holds (plugins/app/hot-reads.ts).
     */
    sendRepresentation (content: Serialized, next?: string, again?: Reread): FastifyReply
  }
  interface FastifyRequest {
    /** The If-Match header, as a conditional write's condition: absent, '*', or the strong tags it lists. */
    readonly ifMatch: Expected
  }
}


/** Conditional requests (the contract's "Caching and conditional requests") for every route. */
export default fp(async function representationPlugin (fastify) {
  fastify.decorateReply('sendRepresentation', function sendRepresentation (this: FastifyReply, content: Serialized, next?: string, again?: Reread): FastifyReply {
    const tag = etag(content.tag)
    this.header('etag', tag)
    this.header('cache-control', 'no-cache')
    if (next !== undefined) this.header('link', nextLink(next))
    const method = this.request.method
    if ((method === 'GET' || method === 'HEAD') && noneMatch(this.request.headers['if-none-match'], tag)) {
      return this.code(304).send()
    }
    if (again !== undefined && method === 'GET' && fastify.hotReads !== undefined) this.request.hotCandidate = { ...again, tag: content.tag }
    return this.type(JSON_CONTENT_TYPE).send(content.body)
  })
  fastify.decorateRequest('ifMatch', {
    getter () {
      const header = this.headers['if-match']
      return parseIfMatch(Array.isArray(header) ? header.join(',') : header)
    }
  })
}, { name: 'representation' })
