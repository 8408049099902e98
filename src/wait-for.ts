import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'

const FIRST_DELAY_MS = 250
const MAX_DELAY_MS = 5000

/**
 * Calls `attempt` until it resolves, backing off from 250 ms doubling to 5 s, with one
 * warning per failed attempt. A backing service that is down when the app starts is waited
 * for, however long, instead of crashing the process in a loop.
 */
export async function waitFor<T> (service: string, attempt: () => Promise<T>, { log }: { log: FastifyBaseLogger }): Promise<T> {
  let delayMs = FIRST_DELAY_MS
  for (let n = 1; ; n++) {
    try {
      const result = await attempt()
      if (n > 1) log.info({ service, attempt: n }, `${service} is answering`)
      return result
    } catch (err) {
      log.warn({ service, attempt: n, err, retryInMs: delayMs }, `${service} is not answering (attempt ${n}); retrying in ${delayMs} ms`)
    }
    await sleep(delayMs)
    delayMs = Math.min(delayMs * 2, MAX_DELAY_MS)
  }
}
