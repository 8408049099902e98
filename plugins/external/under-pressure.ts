import { getHeapStatistics } from 'node:v8'
import underPressure from '@fastify/under-pressure'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { OverloadedError } from '../../src/domain/errors'
import { SHED_RETRY_AFTER_SECONDS } from '../../src/http/limits'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/under-pressure's per-route say: one that returns nothing lets the request through. */
    pressureHandler?: (request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined) => void
  }
}

const MIB = 1024 * 1024
/** How often under-pressure measures (its default). */
const SAMPLE_MS = 1000

/** Thrown by under-pressure for every shed request: the contract's 503 SERVICE_UNAVAILABLE. */
/** The one refusal, made once: shedding answers many a second, and each new error would capture a stack. */
const SHED = new OverloadedError(SHED_RETRY_AFTER_SECONDS)

/**
 * Load shedding: while the mean event-loop delay over the last second, the V8 heap in use or
 * the resident set is past its limit (SHED_EVENT_LOOP_DELAY_MS, SHED_HEAP_USED_MB,
 * SHED_RSS_MB), every request is answered 503 at once, before any work, instead of queueing
 * behind the ones already slow. GET /health/live opts out (the process still serves, and a
 * restart would not help); GET /health/ready opts out to say NOT_READY itself. The limits are
 * read once a second (under-pressure's sampleInterval), so shedding starts and stops within a
 * second of the pressure.
 */
export default fp(async function underPressurePlugin (fastify) {
  const { config } = fastify
  // By default 90% of V8's heap limit: past it, the collector runs ever more often for ever less.
  const heapMb = config.shedHeapUsedMb ?? Math.floor(getHeapStatistics().heap_size_limit * 0.9 / MIB)
  // The sample that holds start-up (compiling every route's schemas blocks the loop for a
  // second or more) says nothing about load: event-loop delay counts from the second full
  // sample after ready on. Heap and RSS count at once.
  let delayCountsFrom = Infinity
  fastify.addHook('onReady', async () => { delayCountsFrom = Date.now() + 2 * SAMPLE_MS + 100 })
  await fastify.register(underPressure, {
    sampleInterval: SAMPLE_MS,
    maxEventLoopDelay: config.shedEventLoopDelayMs,
    maxHeapUsedBytes: heapMb * MIB,
    maxRssBytes: (config.shedRssMb ?? 0) * MIB,
    retryAfter: SHED_RETRY_AFTER_SECONDS,
    // Rejecting hands the error to the error handler: the contract's shape, with Retry-After.
    pressureHandler: async (request, _reply, type, value) => {
      if (type === underPressure.TYPE_EVENT_LOOP_DELAY && Date.now() < delayCountsFrom) return
      request.log.debug({ pressure: type, value }, 'shedding')
      throw SHED
    }
  })
  fastify.log.debug({ eventLoopDelayMs: config.shedEventLoopDelayMs, heapMb, rssMb: config.shedRssMb }, 'load shedding limits')
}, { name: 'under-pressure', dependencies: ['config', 'helmet', 'cors'] })
