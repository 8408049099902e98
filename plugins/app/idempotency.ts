import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler, onSendAsyncHookHandler } from 'fastify'
import { createMemoryCache } from '../../src/cache/memory'
import { AppError, ServiceUnavailableError, idempotencyKeyInUse, idempotencyKeyReused } from '../../src/domain/errors'
import { JSON_CONTENT_TYPE } from '../../src/http/limits'
import { createIdempotencyStore, fingerprintOf, type Recorded } from '../../src/stores/idempotency'
import { sharedRedis } from '../external/redis'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Opt a creation route into `Idempotency-Key` (its schema declares IdempotencyHeaders). */
    idempotent?: boolean
  }
  interface FastifyRequest {
    /** Set while this request holds its Idempotency-Key. */
    idempotency: { slot: string, userId: number, fingerprint: string } | null
  }
  interface FastifyInstance {
    /** The recorded successes: deleting an account deletes its own (src/services/leaving.ts). */
    idempotencyRecords: IdempotencyRecords
  }
}

/** What the rest of the app may do with the records: forget a user's. */
export type IdempotencyRecords = Pick<ReturnType<typeof createIdempotencyStore>, 'forgetUser'>

/**
 * Idempotent creation, opted into per route with `config: { idempotent: true }` (POST /books,
 * POST /reviews). Keys belong to the token's user. A success is recorded for 24 hours and
 * replayed (status, body, Location, `Idempotent-Replayed: true`) to a repeat with the same body;
 * another body is 422; a repeat while the first runs is 409; a failure releases the key and
 * is not remembered. Records live in the shared Redis cache when REDIS_URL is set, so every
 * instance sees them; otherwise in a map of their own, so book pages never evict them.
 */
export default fp(async function idempotencyPlugin (fastify) {
  const redis = sharedRedis(fastify)
  const backend = redis === undefined ? createMemoryCache() : fastify.cache
  const store = createIdempotencyStore(backend, fastify.config.backendTimeoutMs)
  const log = fastify.log.child({ module: 'idempotency' })
  if (redis === undefined) fastify.addHook('onClose', async () => { await backend.close() })

  fastify.decorateRequest('idempotency', null)
  fastify.decorate('idempotencyRecords', {
    forgetUser: async (userId: number) => {
      try {
        return await store.forgetUser(userId)
      } catch (err) {
        return unavailable(err)
      }
    }
  } satisfies IdempotencyRecords)

  /** The idempotency store failed: without it, no promise about repeats can be kept. */
  const unavailable = (err: unknown): never => {
    if (err instanceof AppError) throw err
    throw new ServiceUnavailableError(backend.name, { cause: err })
  }

  function replay (reply: FastifyReply, recorded: Recorded): FastifyReply {
    reply.code(recorded.statusCode)
      .header('content-type', JSON_CONTENT_TYPE)
      .header('idempotent-replayed', 'true')
    if (recorded.location !== undefined) reply.header('location', recorded.location)
    return reply.send(recorded.body)
  }

  const idempotencyPreHandler: preHandlerAsyncHookHandler = async function idempotencyPreHandler (request: FastifyRequest, reply: FastifyReply) {
    const key = request.headers['idempotency-key']
    if (typeof key !== 'string') return
    const slot = store.slot(`${request.method} ${request.routeOptions.url ?? ''}`, request.user.user_id, key)
    const fingerprint = fingerprintOf(request.body)
    let recorded: Recorded | undefined
    try {
      recorded = await store.recorded(slot)
      if (recorded === undefined) {
        if (!(await store.lock(slot))) throw idempotencyKeyInUse()
        // The first may have finished between the read and the lock: look again, under the lock.
        recorded = await store.recorded(slot)
        if (recorded === undefined) {
          request.idempotency = { slot, userId: request.user.user_id, fingerprint }
          return
        }
        await store.unlock(slot)
      }
    } catch (err) {
      unavailable(err)
    }
    if (recorded === undefined) return
    if (recorded.fingerprint !== fingerprint) throw idempotencyKeyReused()
    return replay(reply, recorded)
  }

  const idempotencyOnSend: onSendAsyncHookHandler<unknown> = async function idempotencyOnSend (request, reply, payload) {
    const held = request.idempotency
    if (held === null) return payload
    request.idempotency = null
    try {
      const status = reply.statusCode
      // Representations leave as bytes (plugins/app/representation.ts), other answers as text.
      const body = Buffer.isBuffer(payload) ? payload.toString() : payload
      if (status >= 200 && status < 300 && typeof body === 'string') {
        const location = reply.getHeader('location')
        await store.record(held.slot, held.userId, {
          fingerprint: held.fingerprint,
          statusCode: status,
          location: typeof location === 'string' ? location : undefined,
          body
        })
      }
    } catch (err) {
      // The creation stands; only its replay is lost, so a retry with this key would repeat it.
      log.error({ err, reqId: request.id }, 'a success could not be recorded for its Idempotency-Key')
    }
    try {
      await store.unlock(held.slot)
    } catch (err) {
      log.warn({ err, reqId: request.id }, 'an Idempotency-Key lock could not be released; it expires by itself')
    }
    return payload
  }

  fastify.addHook('onRoute', (route) => {
    if (route.config?.idempotent !== true) return
    if ((route.schema as { headers?: unknown } | undefined)?.headers === undefined) {
      throw new Error(`${String(route.method)} ${route.url}: an idempotent route declares IdempotencyHeaders in its schema`)
    }
    route.preHandler = [...[route.preHandler ?? []].flat(), idempotencyPreHandler]
    route.onSend = [...[route.onSend ?? []].flat(), idempotencyOnSend]
  })
}, { name: 'idempotency', dependencies: ['config', 'cache', 'redis-client'] })
