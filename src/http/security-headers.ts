import type { IncomingMessage, ServerResponse } from 'node:http'
import helmet, { type HelmetOptions } from 'helmet'

/** Where the API explorer lives (plugins/external/swagger.ts): the only HTML this service serves. */
export const DOCS_PREFIX = '/docs'

/** Whether a route serves the explorer's pages (and gets their headers). */
export const isDocsRoute = (url: string): boolean => url === DOCS_PREFIX || url.startsWith(`${DOCS_PREFIX}/`)

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

/**
 * The headers helmet sets for `options`, worked out by running its middleware on a stand-in
 * answer. These never change, so they are computed once and copied onto each answer: helmet
 * (and @fastify/helmet, which calls it afresh per request) re-validates and re-serializes the
 * CSP every time.
 */
function securityHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const res = {
    setHeader (name: string, value: string | number | readonly string[]) { headers[name.toLowerCase()] = String(value) },
    removeHeader () {}
  }
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => { if (err !== undefined && err !== null) throw err })
  return headers
}

/**
 * A JSON answer's security headers: every answer gets them (plugins/external/helmet.ts), the
 * answers written outside Fastify's hooks too (src/http/error-handler.ts).
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = securityHeaders(API)

/** What the explorer's pages add to, or change in, the JSON answers' headers. */
export const DOCS_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(securityHeaders(DOCS)).filter(([name, value]) => API_SECURITY_HEADERS[name] !== value)
)
