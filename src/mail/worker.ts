import { AsyncResource } from 'node:async_hooks'
import type { FastifyBaseLogger } from 'fastify'
import type { ClaimedMessage, OutboxStore } from '../stores/types'
import type { MailTransport } from './transport'

interface Options {
  outbox: Pick<OutboxStore, 'claim' | 'remove' | 'retryLater'>
  transport: MailTransport
  log: FastifyBaseLogger
  /** How often due messages are looked for when no one nudges. */
  pollMs?: number
  /** How long a claim keeps other instances off a message being sent. */
  leaseMs?: number
  /** The longest one message may take to be accepted; then it is aborted and tried again later. */
  sendTimeoutMs?: number
  /** How long stop() lets the message in hand finish before aborting it. */
  stopMs?: number
}

/** A message not sent within this long of being written is given up (the contract's 24 hours). */
export const GIVE_UP_MS = 24 * 3600 * 1000
/** The longest wait between two tries of one message (the contract: at least every 60 seconds). */
export const MAX_BACKOFF_MS = 60_000
/**
 * Room left in a lease after the send's own deadline, for recording the outcome: a send that
 * ends by its deadline is removed or rescheduled before any other instance may claim it.
 */
const LEASE_MARGIN_MS = 10_000
/** After an aborted send, how long stop() still waits for its outcome to be recorded. */
const RECORD_MS = 1000

/** Milliseconds before the next try of a message tried `attempts` times: 1 s, 2 s, 4 s, ... up to 60 s. */
export const backoffMs = (attempts: number): number => Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, attempts - 1))

/** A short, address-free name for why a send failed: nodemailer's code, else the error's name. */
function failureCode (err: unknown): { code: string, responseCode?: number } {
  const e = err as { code?: unknown, name?: unknown, responseCode?: unknown }
  const code = typeof e.code === 'string' && e.code !== '' ? e.code : typeof e.name === 'string' ? e.name : 'Error'
  return typeof e.responseCode === 'number' ? { code, responseCode: e.responseCode } : { code }
}

/**
 * Sends what the outbox holds. One message at a time: claim it (a conditional update, so of
 * several instances one sends it), hand it to the transport under a deadline shorter than the
 * claim's lease, then remove it, or on failure schedule it again with backoff until it is a
 * day old. A send that cannot reach the server ends the round: it is likely down, and the other due
 * messages wait for the next poll instead of each waiting out a timeout now; so while it is
 * down one message a poll probes it, and once it answers the rest follow at once.
 *
 * nudge() (after a commit that enqueued) looks at once; otherwise every `pollMs`. So with the
 * server up a message leaves within a poll, and after an outage within its backoff (≤ 60 s):
 * the first round that finds the server up sends every due message, however long the queue
 * (with more than 60 waiting, each is tried less often than every 60 s while it is down, but
 * none waits longer than that once it is back).
 * A crash mid-send leaves the claim to run out (≤ `leaseMs`), then any instance sends it.
 */
export function createMailWorker ({ outbox, transport, log, pollMs = 1000, leaseMs = 60_000, sendTimeoutMs = 30_000, stopMs = 5000 }: Options) {
  if (sendTimeoutMs + LEASE_MARGIN_MS > leaseMs) throw new Error('the mail lease must outlast a send by at least 10 s')
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false
  let stopped = true
  /** Aborts the send in hand when stop() runs out of patience; a new one for each start(). */
  let stopping = new AbortController()

  /**
   * Whether to go on with the round: yes after a message is accepted or given up, and after
   * the server refused this one message with an SMTP reply (it is up; a bad address must not
   * hold back the rest); no when it could not be reached or did not answer in time.
   */
  async function deliver (message: ClaimedMessage): Promise<boolean> {
    if (Date.parse(message.created_at) + GIVE_UP_MS <= Date.now()) {
      await outbox.remove(message.id)
      log.error({ outboxId: message.id, attempts: message.attempts, transport: transport.name }, 'mail given up: not accepted within 24 hours')
      return true
    }
    try {
      await transport.send(message, AbortSignal.any([stopping.signal, AbortSignal.timeout(sendTimeoutMs)]))
    } catch (err) {
      const failure = failureCode(err)
      const retryInMs = backoffMs(message.attempts)
      await outbox.retryLater(message.id, new Date(Date.now() + retryInMs).toISOString(), failure.code)
      log.warn({ outboxId: message.id, attempts: message.attempts, ...failure, retryInMs, transport: transport.name }, 'mail not sent; will retry')
      return failure.responseCode !== undefined
    }
    await outbox.remove(message.id)
    log.info({ outboxId: message.id, attempts: message.attempts, transport: transport.name }, 'mail sent')
    return true
  }

  async function tick (): Promise<void> {
    do {
      again = false
      while (!stopped) {
        const now = Date.now()
        let claimed: ClaimedMessage[]
        try {
          claimed = await outbox.claim(new Date(now).toISOString(), new Date(now + leaseMs).toISOString(), 1)
        } catch (err) {
          log.warn({ code: failureCode(err).code }, 'outbox not readable; will look again')
          return
        }
        const [message] = claimed
        if (message === undefined) break
        try {
          if (!(await deliver(message))) return
        } catch (err) {
          // The outbox could not record the outcome: the claim runs out and it is tried again.
          log.warn({ outboxId: message.id, code: failureCode(err).code }, 'outbox not writable; the message will be tried again')
          return
        }
      }
    } while (again && !stopped)
  }

  function schedule (delayMs: number): void {
    if (stopped) return
    clearTimeout(timer)
    timer = setTimeout(runOnItsOwn, delayMs)
    timer.unref()
  }

  function run (): void {
    if (running !== undefined) { again = true; return }
    running = tick().finally(() => {
      running = undefined
      // A nudge that came as the round ended: look again at once.
      schedule(again ? 0 : pollMs)
    })
  }

  // A poll is nobody's request: run in the context the worker was made in (start-up), not in
  // that of the request whose nudge scheduled it, else every later poll's queries and mail
  // would join that request's trace (src/tracing.ts) for as long as the process lives.
  const runOnItsOwn = AsyncResource.bind(() => { run() })

  const settled = async (work: Promise<void>, ms: number): Promise<boolean> => {
    let wait: NodeJS.Timeout | undefined
    const done = await Promise.race([
      work.then(() => true, () => true),
      new Promise<boolean>((resolve) => { wait = setTimeout(() => resolve(false), ms) })
    ])
    clearTimeout(wait)
    return done
  }

  return {
    start (): void {
      stopped = false
      stopping = new AbortController()
      schedule(0)
    },
    /** Something was just enqueued: look now rather than at the next poll. */
    nudge (): void {
      if (!stopped) run()
    },
    /**
     * Stops looking, lets the message in hand finish for up to `stopMs`, then aborts it (it
     * stays in the outbox for the next start or another instance) and waits briefly for that
     * to be recorded: a mail server that hangs cannot hold the shutdown.
     */
    async stop (): Promise<void> {
      stopped = true
      clearTimeout(timer)
      const inHand = running
      if (inHand !== undefined && !(await settled(inHand, stopMs))) {
        log.warn({ stopMs, transport: transport.name }, 'mail send still running at shutdown: aborted, the message stays in the outbox')
        stopping.abort()
        await settled(inHand, RECORD_MS)
      }
      transport.close()
    }
  }
}

export type MailWorker = ReturnType<typeof createMailWorker>
