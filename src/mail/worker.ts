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
}

/** A message not sent within this long of being written is given up (the contract's 24 hours). */
const GIVE_UP_MS = 24 * 3600 * 1000
/** The longest wait between two tries of one message (the contract: at least every 60 seconds). */
const MAX_BACKOFF_MS = 60_000
/** Messages claimed at a time. */
const BATCH = 10

/** Seconds before the next try of a message tried `attempts` times: 1, 2, 4, ... up to 60. */
export const backoffMs = (attempts: number): number => Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.max(0, attempts - 1))

/**
 * Sends what the outbox holds: claims due messages (one instance per message), hands each to
 * the transport, removes it once accepted, and tries a failure again with backoff until the
 * message is a day old. Runs until stop(); nudge() looks at once (after a commit that
 * enqueued), so with the transport up a message leaves within a poll at worst.
 */
export function createMailWorker ({ outbox, transport, log, pollMs = 1000, leaseMs = 60_000 }: Options) {
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let again = false
  let stopped = true

  async function deliver (message: ClaimedMessage, now: number): Promise<void> {
    if (Date.parse(message.created_at) + GIVE_UP_MS <= now) {
      await outbox.remove(message.id)
      log.error({ outboxId: message.id, attempts: message.attempts }, 'mail given up: not accepted within 24 hours')
      return
    }
    try {
      await transport.send(message)
    } catch (err) {
      const code = String((err as { code?: unknown }).code ?? (err as Error).name ?? 'Error')
      const next = new Date(Date.now() + backoffMs(message.attempts)).toISOString()
      await outbox.retryLater(message.id, next, code)
      log.warn({ outboxId: message.id, attempts: message.attempts, code, transport: transport.name }, 'mail not sent; will retry')
      return
    }
    await outbox.remove(message.id)
    log.info({ outboxId: message.id, transport: transport.name }, 'mail sent')
  }

  async function tick (): Promise<void> {
    do {
      again = false
      const now = Date.now()
      let batch: ClaimedMessage[]
      try {
        batch = await outbox.claim(new Date(now).toISOString(), new Date(now + leaseMs).toISOString(), BATCH)
      } catch (err) {
        log.warn({ code: (err as { code?: unknown }).code }, 'outbox not readable; will look again')
        return
      }
      for (const message of batch) {
        try {
          await deliver(message, now)
        } catch (err) {
          // The outbox could not record the outcome: the claim runs out and it is tried again.
          log.warn({ outboxId: message.id, code: (err as { code?: unknown }).code }, 'outbox not writable; the message will be tried again')
        }
      }
      // A full batch: more may be due now.
      if (batch.length === BATCH) again = true
    } while (again && !stopped)
  }

  function schedule (delayMs: number): void {
    if (stopped) return
    clearTimeout(timer)
    timer = setTimeout(run, delayMs)
    timer.unref()
  }

  function run (): void {
    if (running !== undefined) { again = true; return }
    running = tick().finally(() => {
      running = undefined
      schedule(again ? 0 : pollMs)
    })
  }

  return {
    start (): void {
      stopped = false
      schedule(0)
    },
    /** Something was just enqueued: look now rather than at the next poll. */
    nudge (): void {
      if (!stopped) run()
    },
    async stop (): Promise<void> {
      stopped = true
      clearTimeout(timer)
      await running
      transport.close()
    }
  }
}

export type MailWorker = ReturnType<typeof createMailWorker>
