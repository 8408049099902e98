import { availableParallelism } from 'node:os'
import { hash, verify, Algorithm } from '@node-rs/argon2'
import { OverloadedError } from '../domain/errors'
import { traced, type Tracing } from '../tracing'

interface Argon2Params {
  memoryCost: number
  timeCost: number
  parallelism: number
  /** Hashes and verifies in flight at once: each holds memoryCost KiB while it runs. */
  concurrency?: number | undefined
}

/**
 * More hashes in flight than cores only queue inside libuv while each holds its memory: one
 * per core the process may run on (its CPU affinity), at most two, unless configured.
 */
const defaultHashConcurrency = (): number => Math.min(2, availableParallelism())

/** When a call that may be shed is (503) rather than queued. */
interface QueueLimit {
  /** Calls waiting beyond this many are shed (503); Infinity: no bound by count. */
  maxQueue?: number
  /** A call whose estimated wait for a slot is longer is shed (503); Infinity: no bound by time. */
  maxWaitMs?: number
  /** Set only when OTEL_EXPORTER_OTLP_ENDPOINT is: a span per hash and per check. */
  tracing?: Tracing | undefined
}

/** Seconds a shed sign-in is told to wait: the queue it found full drains in well under that. */
const PASSWORD_SHED_RETRY_AFTER_SECONDS = 1

/**
 * The one refusal every shed password call throws, made once: under a flood the service may
 * answer thousands a second, and a stack captured for each costs more than the answer.
 */
const SHED = new OverloadedError(PASSWORD_SHED_RETRY_AFTER_SECONDS)

/** Weight of the newest call in the running mean of a call's time (an exponential average). */
const MEAN_WEIGHT = 0.2

/**
 * Runs at most `max` calls at once; the rest wait their turn, in order. A call that may be
 * shed waits only while its estimated wait (the calls ahead of it, at the running mean of a
 * call's time, `max` at once) is within `maxWaitMs` and fewer than `maxQueue` wait; otherwise
 * it fails at once with OverloadedError. A wait that a client accepts (a second or two) costs
 * nothing, while a refusal makes a client that retries at once send again: a flood of 50 such
 * clients, refused past a fixed queue of 32, kept the event loop busy answering thousands of
 * refusals a second on the core argon2 needs (goodput 0.74 of one verify's rate). Beyond the
 * bound a burst is still refused rather than queued past any client's timeout, while the
 * process itself looks idle (argon2 runs off the event loop, so event-loop delay never says so).
 */
function limit (max: number, maxQueue: number, maxWaitMs: number) {
  let running = 0
  let meanMs = 0
  const waiting: Array<() => void> = []
  const full = (): boolean => running >= max &&
    (waiting.length >= maxQueue || (waiting.length + 1) * meanMs / max > maxWaitMs)
  return Object.assign(async function limited<T> (call: () => Promise<T>, mayShed: boolean): Promise<T> {
    if (running >= max) {
      if (mayShed && full()) throw SHED
      await new Promise<void>((resolve) => waiting.push(resolve))
    }
    running++
    const started = performance.now()
    try {
      return await call()
    } finally {
      const ms = performance.now() - started
      meanMs = meanMs === 0 ? ms : meanMs + MEAN_WEIGHT * (ms - meanMs)
      running--
      waiting.shift()?.()
    }
  }, { full })
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/

/**
 * argon2id through @node-rs/argon2: runs on libuv's thread pool, off the event loop. The
 * library draws a random 16-byte salt per hash and returns one self-describing PHC string,
 * so the cost can be raised later and old hashes upgraded at sign-in.
 *
 * `hash`, `verify` and `verifyDummy` are the first argon2 call of an operation and may be shed
 * (OverloadedError, before any work, so a shed sign-in is no failed sign-in); a call made
 * after one succeeded (`hash(..., { mayShed: false })`: the rehash at sign-in, a new password
 * once the current one checked) waits its turn instead, so no operation fails half-way.
 */
export function createPasswordHasher ({ concurrency = defaultHashConcurrency(), ...params }: Argon2Params, { maxQueue = Infinity, maxWaitMs = Infinity, tracing }: QueueLimit = {}) {
  const options = { algorithm: Algorithm.Argon2id, ...params, outputLen: 32 }
  // Bounds argon2's memory (memoryCost each) and keeps libuv's pool free for other work.
  const limited = limit(concurrency, maxQueue, maxWaitMs)
  let dummy: Promise<string> | undefined

  // The span covers the wait for a slot too: that is the time a sign-in spends on it. Only
  // the algorithm is named, never the password, the hash or its salt.
  const span = (operation: 'hash' | 'verify') => () => ({ name: `password.${operation}`, attributes: { 'password.algorithm': 'argon2id' } })

  const hasher = {
    /**
     * Throws OverloadedError when a call that may be shed would be: routes ask this first
     * (onRequest), so a shed request costs no body parsing, no validation and no database
     * read. A flood of shed sign-ins is then cheap enough not to crowd reads out.
     */
    admit (): void {
      if (limited.full()) throw SHED
    },
    hash (password: string, { mayShed = true }: { mayShed?: boolean } = {}): Promise<string> {
      return limited(() => hash(password, options), mayShed)
    },
    async verify (stored: string, password: string): Promise<boolean> {
      try {
        return await limited(() => verify(stored, password), true)
      } catch (err) {
        if (err instanceof OverloadedError) throw err
        return false
      }
    },
    /**
     * Spends the same time as a real check, for an email with no account, so the answer's
     * timing does not reveal which emails exist.
     */
    async verifyDummy (password: string): Promise<false> {
      const check = limited(async () => {
        dummy ??= hash('dummy password that no account has', options)
        const stored = await dummy
        await verify(stored, password).catch(() => false)
      }, true)
      await check
      return false
    },
    needsRehash (stored: string): boolean {
      const m = PHC.exec(stored)
      return m === null ||
        Number(m[1]) !== params.memoryCost || Number(m[2]) !== params.timeCost || Number(m[3]) !== params.parallelism
    }
  }
  if (tracing === undefined) return hasher
  return {
    ...hasher,
    hash: traced(tracing, hasher.hash, span('hash')),
    verify: traced(tracing, hasher.verify, span('verify')),
    verifyDummy: traced(tracing, hasher.verifyDummy, span('verify'))
  }
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>
