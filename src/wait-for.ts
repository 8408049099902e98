import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { urlParts } from '../config/load'

const FIRST_DELAY_MS = 250
const MAX_DELAY_MS = 5000

export interface WaitOptions {
  log: FastifyBaseLogger
  /** Where the service is (host:port): named in every line. Never a URL, which may hold a password. */
  at: string
  /** How long to keep trying, counted from the first attempt. */
  waitMs: number
  /** Stops the wait at once. */
  signal?: AbortSignal
}

/** The wait a backing service's client plugin does at start-up: STARTUP_WAIT_SECONDS long, stopped by a signal to the process. */
export function startupWait (fastify: FastifyInstance, url: string, log: FastifyBaseLogger): WaitOptions {
  return { log, at: urlParts(url).host, waitMs: fastify.config.startupWaitSeconds * 1000, signal: fastify.startupSignal }
}

/**
 * What went wrong, in a word an operator can look up: the system error code (`ECONNREFUSED`,
 * `ENOTFOUND`) or the driver's (`ER_ACCESS_DENIED_ERROR`), looked for in the error, its cause
 * and its message (MongoDB words its own error around the socket's); else its first line.
 */
export function errorCode (err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code !== '') return code
    if (e instanceof AggregateError) {
      const inner = e.errors.map(errorCode).find((c) => /^E[A-Z_]+$/.test(c))
      if (inner !== undefined) return inner
    }
  }
  const message = err instanceof Error ? err.message : String(err)
  return /\b(E[A-Z]{3,}[A-Z_]*)\b/.exec(message)?.[1] ?? (message.split('\n')[0] ?? '').slice(0, 100)
}

const seconds = (ms: number): string => ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`

export class StartupWaitError extends Error {
  override name = 'StartupWaitError'
}

/**
 * Calls `attempt` until it resolves, backing off from 250 ms doubling to 5 s, for at most
 * `waitMs`: a backing service that is not up yet when the app starts (containers starting
 * together) is waited for, and one that never answers (down, or a misspelled host) ends the
 * start with one line saying so, rather than a process retrying for ever. Each failed attempt
 * is one short warning naming the service, where it is and the error code, never a stack.
 */
export async function waitFor<T> (service: string, attempt: () => Promise<T>, { log, at, waitMs, signal }: WaitOptions): Promise<T> {
  const deadline = Date.now() + waitMs
  let delayMs = FIRST_DELAY_MS
  for (let n = 1; ; n++) {
    let code: string
    try {
      const result = await untilAborted(attempt, signal, service, at)
      if (n > 1) log.info({ service, attempt: n }, `${service} ${at} answering, attempt ${n}`)
      return result
    } catch (err) {
      if (signal?.aborted === true) throw err
      code = errorCode(err)
    }
    const left = deadline - Date.now()
    if (left <= 0) throw new StartupWaitError(`gave up on ${service} at ${at} after ${seconds(waitMs)} (${code})`)
    const retryInMs = Math.min(delayMs, left)
    log.warn({ service, attempt: n, code, retryInMs }, `${service} ${at} not answering (${code}), attempt ${n}; retrying in ${seconds(retryInMs)}`)
    try {
      await sleep(retryInMs, undefined, { signal })
    } catch {
      throw interrupted(service, at)
    }
    delayMs = Math.min(delayMs * 2, MAX_DELAY_MS)
  }
}

const interrupted = (service: string, at: string): Error => new StartupWaitError(`stopped waiting for ${service} at ${at}: the process was told to stop`)

/** `attempt()`, or a rejection as soon as `signal` aborts (an attempt under way is left to fail unheard). */
async function untilAborted<T> (attempt: () => Promise<T>, signal: AbortSignal | undefined, service: string, at: string): Promise<T> {
  if (signal === undefined) return await attempt()
  if (signal.aborted) throw interrupted(service, at)
  const promise = attempt()
  promise.catch(() => {})
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(interrupted(service, at))
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([promise, aborted])
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
  }
}
