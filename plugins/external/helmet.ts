import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * Its default CSP suits the /docs explorer (scripts and styles from 'self', inline styles,
 * data: images), minus `upgrade-insecure-requests`, which would send the explorer's own
 * assets to https:// on a plain-HTTP deployment (127.0.0.1, the compose proxy) and break it.
 */
const OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: true, directives: { upgradeInsecureRequests: null, frameAncestors: ["'none'"] } },
  frameguard: { action: 'deny' }
}

/** The headers helmet sets for OPTIONS, worked out once by running its middleware on a stand-in answer. */
export function securityHeaders (options: HelmetOptions = OPTIONS): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: string | number | readonly string[]) { headers[name.toLowerCase()] = String(value) },
    removeHeader () {}
  }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => { if (err !== undefined && err !== null) throw err })
  return headers
}

/**
 * The usual security headers on every answer (nosniff, CSP with frame-ancestors,
 * Referrer-Policy, ...), helmet's own values. Not through @fastify/helmet: it calls
 * `helmet(options)` afresh on every request, re-validating and re-serializing the CSP each
 * time (a third of GET /books/:id's throughput in our A/B run); these never change, so they
 * are computed here once and copied onto each answer.
 */
export default fp(async function helmetPlugin (fastify) {
  const headers = securityHeaders()
  fastify.addHook('onRequest', async function securityHeadersHook (_request, reply) {
    reply.headers(headers)
  })
}, { name: 'helmet' })
