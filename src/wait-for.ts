import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'

export interface WaitForOptions {
  log: FastifyBaseLogger
  initialDelayMs?: number
  maxDelayMs?: number
  /** Stops waiting (rejecting with the signal's reason), e.g. when the app is closed during start-up. */
  signal?: AbortSignal
}

/**
 * Calls `attempt` until it resolves, backing off from `initialDelayMs` doubling to
 * `maxDelayMs`, with one warning per failed attempt. A backing service that is down when
 * the app starts is waited for, however long, instead of crashing the process in a loop.
 */
export async function waitFor<T> (service: string, attempt: () => Promise<T>, { log, initialDelayMs = 250, maxDelayMs = 5000, signal }: WaitForOptions): Promise<T> {
  let delayMs = initialDelayMs
  for (let n = 1; ; n++) {
    signal?.throwIfAborted()
    try {
      const result = await attempt()
      if (n > 1) log.info({ service, attempt: n }, `${service} is answering`)
      return result
    } catch (err) {
      log.warn({ service, attempt: n, err, retryInMs: delayMs }, `${service} is not answering (attempt ${n}); retrying in ${delayMs} ms`)
    }
    await sleep(delayMs, undefined, signal === undefined ? undefined : { signal })
    delayMs = Math.min(delayMs * 2, maxDelayMs)
  }
}
