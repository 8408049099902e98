import { randomUUID } from 'node:crypto'
import type { FastifyServerOptions } from 'fastify'
import type { Config } from './schema'

/** Bodies in this API are small JSON documents; the contract caps them at 64 KiB. */
export const BODY_LIMIT = 64 * 1024

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** Honour a caller's x-request-id when it is a sane token, else mint one. */
export function genReqId (req: { headers: Record<string, string | string[] | undefined> }): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

/** Trust the `hops` closest addresses: the socket's peer is hop 0. */
const trustHops = (hops: number) => (_address: string, hop: number): boolean => hop < hops

export function serverOptions (config: Config, { pretty = false } = {}): FastifyServerOptions {
  return {
    logger: {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {})
    },
    genReqId,
    requestIdHeader: false,
    bodyLimit: BODY_LIMIT,
    // A slow or stalled client cannot hold a request open for ever.
    requestTimeout: 30_000,
    connectionTimeout: 60_000,
    return503OnClosing: true,
    // Off unless TRUST_PROXY says which proxies to believe: X-Forwarded-For then sets request.ip
    // (the per-address limits and the logs); otherwise anyone could spoof it.
    // A hop count as proxy-addr takes it (Fastify's types omit the number form).
    trustProxy: typeof config.proxyTrust === 'number' ? trustHops(config.proxyTrust) : config.proxyTrust,
    // Backing services are waited for with backoff at start-up (plugins/external), however long.
    pluginTimeout: 0,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 }
  }
}
