import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import type { FastifyHttpOptions } from 'fastify'
import type { Config } from '../../config/schema'
import { clientErrorHandler, frameworkErrors } from './error-handler'
import { BODY_LIMIT, MAX_PARAM_LENGTH } from './limits'
import { AnswerLog, lazyChildLogger } from './request-logger'

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Honour a caller's x-request-id when it is a sane token, else mint one. */
export function genReqId (req: { headers: Record<string, string | string[] | undefined> }): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

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
    childLoggerFactory: lazyChildLogger,
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
    // Backing services are waited for at start-up (plugins/external) for up to STARTUP_WAIT_SECONDS
    // each, a bound of their own: a plugin timeout would cut that wait short with a vaguer error.
    pluginTimeout: 0,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH }
  }
}
