import type { IncomingMessage, ServerResponse } from 'node:http'
import type { onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/** Where the API explorer lives (plugins/external/swagger.ts): the only HTML this service serves. */
export const DOCS_PREFIX = '/docs'

/**
 * JSON answers: what a browser can still act on when it meets JSON (OWASP's REST Security
 * Cheat Sheet list): nothing may load from it or frame it, no MIME sniffing, no referrer, no
 * cross-origin embedding, HTTPS remembered. The headers that only govern documents (the
 * opener policy, origin-agent clustering, DNS prefetch) or browsers long gone (IE's
 * X-Download-Options and X-XSS-Protection, Flash's cross-domain policies) are left to the
 * explorer's pages: on every JSON answer they were half of all header bytes and work.
 */
const API: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false
}

/**
 * The explorer's pages: helmet's whole default set. Its default CSP suits /docs (scripts and
 * styles from 'self', inline styles, data: images), minus `upgrade-insecure-requests`, which
 * would send the explorer's own assets to https:// on a plain-HTTP deployment (127.0.0.1, the
 * compose proxy) and break it.
 */
const DOCS: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: true, directives: { upgradeInsecureRequests: null, frameAncestors: ["'none'"] } },
  frameguard: { action: 'deny' }
}

/** The headers helmet sets for `options`, worked out by running its middleware on a stand-in answer. */
export function securityHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: string | number | readonly string[]) { headers[name.toLowerCase()] = String(value) },
    removeHeader () {}
  }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => { if (err !== undefined && err !== null) throw err })
  return headers
}

/** A JSON answer's security headers, worked out once: the hook below and the answers written outside Fastify's hooks (src/error-handler.ts) send these. */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = securityHeaders(API)

const setting = (headers: Readonly<Record<string, string>>): onRequestHookHandler => function securityHeadersHook (_request, reply, done) {
  reply.headers(headers)
  done()
}

/**
 * The usual security headers on every answer, helmet's own values. Not through
 * @fastify/helmet: it calls `helmet(options)` afresh on every request, re-validating and
 * re-serializing the CSP each time (a third of GET /books/:id's throughput in our A/B run);
 * these never change, so they are computed here once and copied onto each answer, by a hook
 * that takes `done` (an async one costs a promise per request). Routes under /docs get the
 * document set on top, through their own hook.
 */
export default fp(async function helmetPlugin (fastify) {
  const docs = securityHeaders(DOCS)
  const forDocs = setting(Object.fromEntries(Object.entries(docs).filter(([name, value]) => API_SECURITY_HEADERS[name] !== value)))
  fastify.addHook('onRequest', setting(API_SECURITY_HEADERS))
  fastify.addHook('onRoute', (route) => {
    if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`)) route.onRequest = [route.onRequest ?? []].flat().concat(forDocs)
  })
}, { name: 'helmet' })
