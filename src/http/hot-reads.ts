import type { FastifyBaseLogger } from 'fastify'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { SLOW_MS } from './request-logger'

/**
 * Cached reads answered before Fastify: a GET whose URL was answered 200 by its route, and
 * whose representation is still the one it answered then, gets the very same headers again
 * (a fresh X-Request-Id first) without routing, hooks, validation or a reply object.
 *
 * Nothing here decides what an answer is. The route's own answer is recorded as it leaves
 * (plugins/app/hot-reads.ts), with the route's own read (the service's cache-aside get,
 * counted as a hit or miss like any read); each later request reads again and answers only if
 * the tag is unchanged, so it is exactly as fresh as the route. Where the cache answers at once
 * (in process), the read's `peek` does, and the request is answered within its own event: no
 * promise, no chain of awaits. Whatever could make the answer differ goes to Fastify instead:
 * a header the answer depends on (Origin for CORS, If-None-Match, a body), draining, shedding,
 * debug logging, tracing, a changed or failed read, a URL not yet recorded.
 */

/** What a route reads: its bytes and their strong tag (a service's Serialized). */
export interface Representation { readonly body: Buffer, readonly tag: string }

/** A route's read of what it answered, to answer it again. */
export interface Reread {
  /** Resolves the current representation (through the cache). */
  readonly read: () => Promise<Representation>
  /** The same read's answer at once, when the cache can give it (src/cache/cache-aside.ts, peek); else undefined. */
  readonly peek?: (() => Representation | undefined) | undefined
}

export interface HotRead extends Reread {
  /** The tag the headers below were recorded with. */
  readonly tag: string
  /** Every header of the recorded answer but X-Request-Id, as [name, value, ...]. */
  readonly headers: readonly string[]
  /** The metrics' series of the route, when METRICS_PORT is set. */
  readonly observe: ((statusCode: number, seconds: number) => void) | undefined
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * A GET whose answer depends on nothing but its URL: the only kind recorded or answered here.
 * Not: a header the answer depends on (Origin for CORS, If-None-Match), or one that means a
 * body. Credentials are not among them: the routes that record are public, and ignore them.
 */
export function plainGet (method: string | undefined, headers: IncomingHttpHeaders): boolean {
  // Each header read by its own name: on every request, a loop over names costs a generic look-up each.
  return method === 'GET' && headers.origin === undefined && headers['if-none-match'] === undefined &&
    headers['content-length'] === undefined && headers['transfer-encoding'] === undefined
}

export interface HotReadsOptions {
  /** Entries kept at most; the oldest recorded goes first. */
  limit: number
  /** Whether a request may be answered here now (not draining, not shedding, ...). */
  open: () => boolean
  /** The X-Request-Id of a request, as Fastify makes it. */
  requestId: (req: IncomingMessage) => string
  /** The server's logger: a slow answer's line, as Fastify's AnswerLog writes it, and failures. */
  log: FastifyBaseLogger
}

/**
 * A recorded answer: its headers kept once, as the block writeHead takes, X-Request-Id first
 * with its value set per answer.
 */
interface Recorded extends Omit<HotRead, 'headers'> { readonly head: string[] }

export function createHotReads ({ limit, open, requestId, log }: HotReadsOptions) {
  const table = new Map<string, Recorded>()

  function answer (req: IncomingMessage, res: ServerResponse, entry: Recorded, body: Buffer, startedAt: number): void {
    const reqId = requestId(req)
    // One array per URL, not one per answer: writeHead reads it at once and keeps nothing of it.
    // Cleared after: a recorded array holding each URL's last id would keep a young string per
    // URL alive through every young-generation collection (1,000 of them under one-hit search).
    entry.head[1] = reqId
    res.writeHead(200, entry.head)
    entry.head[1] = ''
    res.end(body)
    const ms = performance.now() - startedAt
    entry.observe?.(200, ms / 1000)
    if (ms >= SLOW_MS) {
      // What a raw request holds of what the request serializer reads (no trusted-proxy address).
      const logged = { method: req.method, url: req.url, headers: req.headers, host: req.headers.host, ip: req.socket.remoteAddress, socket: req.socket }
      log.info({ reqId, req: logged, res: { statusCode: 200 }, responseTime: Math.round(ms * 100) / 100 }, 'request completed')
    }
  }

  return {
    /** Records the answer a route gave to `url`, replacing the one recorded before. */
    record (url: string, entry: HotRead): void {
      if (table.get(url)?.tag === entry.tag) return
      table.delete(url)
      if (table.size >= limit) table.delete(table.keys().next().value as string)
      // Field by field, never spread: every entry then has one shape, and a hot read's loads
      // stay monomorphic. A spread's shape depends on V8's history in the process (after a
      // run of writes, each spread entry got a map of its own and every read missed its caches).
      table.set(url, {
        read: entry.read,
        peek: entry.peek,
        tag: entry.tag,
        observe: entry.observe,
        head: ['x-request-id', '', ...entry.headers]
      })
    },

    /** Wraps Fastify's request handler: a request this cannot answer reaches it unchanged. */
    wrap (fastify: Handler): Handler {
      return function hotRead (req, res) {
        const entry = req.method === 'GET' ? table.get(req.url ?? '') : undefined
        if (entry === undefined || !plainGet(req.method, req.headers) || !open()) return fastify(req, res)
        const startedAt = performance.now()
        let now: Representation | undefined
        try {
          now = entry.peek?.()
        } catch (err) {
          // As a failed read below: the route answers, and a defect costs no more than that.
          log.error({ err }, 'hot read failed')
        }
        if (now !== undefined) {
          if (now.tag === entry.tag) answer(req, res, entry, now.body, startedAt)
          else fastify(req, res)
          return
        }
        entry.read().then((current) => {
          if (current.tag !== entry.tag || !open()) fastify(req, res)
          else answer(req, res, entry, current.body, startedAt)
        }, () => {
          // Gone (404) or failed: the route answers that, and records again if it can.
          table.delete(req.url ?? '')
          fastify(req, res)
        }).catch((err: unknown) => {
          // A defect here must cost one answer, never the process (an unhandled rejection).
          log.error({ err }, 'hot read failed')
          if (res.headersSent) res.destroy()
          else fastify(req, res)
        })
      }
    }
  }
}

export type HotReads = ReturnType<typeof createHotReads>
