import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import { LogController, type FastifyHttpOptions, type FastifyReply, type FastifyRequest } from 'fastify'
import { clientErrorHandler, frameworkErrors } from '../src/error-handler'
import type { Config } from './schema'

/** Bodies in this API are small JSON documents; the contract caps them at 64 KiB. */
export const BODY_LIMIT = 64 * 1024

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Honour a caller's x-request-id when it is a sane token, else mint one. */
export function genReqId (req: { headers: Record<string, string | string[] | undefined> }): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

/** An answer slower than this is logged at info whatever its status. */
const SLOW_MS = 1000

/**
 * One line per answer instead of Fastify's two per request: at info when it failed (4xx, 5xx)
 * or was slow, else at debug. Two info lines per request cost more CPU than all the rest of
 * a cached read (measured: 148 µs per cached GET with them, 108 µs without, 62 µs for a bare
 * Fastify sending the same bytes); LOG_LEVEL=debug brings every line back.
 */
class AnswerLog extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { res: reply, responseTime: reply.elapsedTime }
    if (error !== null && error !== undefined) reply.log.error({ ...line, err: error }, 'request errored')
    else if (reply.statusCode >= 400 || reply.elapsedTime >= SLOW_MS) reply.log.info(line, 'request completed')
    else reply.log.debug(line, 'request completed')
  }
}

/** The contract's limit on a path parameter (longer: 414 URI_TOO_LONG). */
export const MAX_PARAM_LENGTH = 100

/** Trust the `hops` closest addresses: the socket's peer is hop 0. */
const trustHops = (hops: number) => (_address: string, hop: number): boolean => hop < hops

export function serverOptions (config: Config, { pretty = false } = {}): FastifyHttpOptions<Server> {
  const timeout = config.requestTimeoutMs
  return {
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
    },
    genReqId,
    requestIdHeader: false,
    logController: new AnswerLog(),
    bodyLimit: BODY_LIMIT,
    // Headers and body within `timeout`, else 408 (clientErrorHandler) and the connection
    // closed. Node checks these only every connectionsCheckingInterval (30 s by default: a
    // 30 s limit then bit at up to 60 s) and headersTimeout defaults to 60 s whatever
    // requestTimeout says, so all three are set here, at creation, where Node reads them.
    requestTimeout: timeout,
    http: {
      requestTimeout: timeout,
      headersTimeout: timeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeout / 10)))
    },
    // A socket silent this long (no request begun, nothing in flight) is closed; a request
    // that has begun is held to `timeout` above and answered 408 first.
    connectionTimeout: timeout + 5_000,
    // Our drain hook (plugins/app/shutdown.ts) answers in the contract's shape instead.
    return503OnClosing: false,
    clientErrorHandler,
    frameworkErrors,
    // Off unless TRUST_PROXY says which proxies to believe: X-Forwarded-For then sets request.ip
    // (the per-address limits and the logs); otherwise anyone could spoof it.
    // A hop count as proxy-addr takes it (Fastify's types omit the number form).
    trustProxy: typeof config.proxyTrust === 'number' ? trustHops(config.proxyTrust) : config.proxyTrust,
    // Backing services are waited for with backoff at start-up (plugins/external), however long.
    pluginTimeout: 0,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH }
  }
}
