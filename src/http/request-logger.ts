import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/** pino's numeric levels, for the check a disabled call makes without building a child. */
const VALUES: Record<string, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10, silent: Infinity }

/**
 * A request's logger that becomes the real pino child (with its `reqId` binding) only when a
 * line is written at an enabled level, or someone asks for a child of it. Fastify makes one
 * logger per request, and a pino child serializes its bindings when it is made: on a cached
 * read that answers quietly, no line is ever written, so none is made.
 */
class RequestLogger implements FastifyBaseLogger {
  #real: FastifyBaseLogger | undefined

  constructor (private readonly parent: FastifyBaseLogger, private bindings: Bindings, private readonly options: ChildLoggerOptions) {}

  /** More bindings: merged for free while no line has been written, else set on the real child. */
  addBindings (bindings: Bindings): void {
    if (this.#real === undefined) this.bindings = { ...this.bindings, ...bindings }
    else setBindings(this.#real, bindings)
  }

  #materialize (): FastifyBaseLogger {
    this.#real ??= this.parent.child(this.bindings, this.options)
    return this.#real
  }

  #write (level: Level, args: [unknown, string?, ...unknown[]]): void {
    if ((VALUES[level] as number) < (VALUES[this.level] ?? 0)) return
    const real = this.#materialize()
    Reflect.apply(real[level], real, args)
  }

  fatal (...args: [unknown, string?, ...unknown[]]): void { this.#write('fatal', args) }
  error (...args: [unknown, string?, ...unknown[]]): void { this.#write('error', args) }
  warn (...args: [unknown, string?, ...unknown[]]): void { this.#write('warn', args) }
  info (...args: [unknown, string?, ...unknown[]]): void { this.#write('info', args) }
  debug (...args: [unknown, string?, ...unknown[]]): void { this.#write('debug', args) }
  trace (...args: [unknown, string?, ...unknown[]]): void { this.#write('trace', args) }
  silent (): void {}

  get level (): string {
    return this.#real?.level ?? this.options.level ?? this.parent.level
  }

  set level (level: string) {
    this.#materialize().level = level
  }

  child (bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#materialize().child(bindings, options)
  }
}

/** pino's setBindings, which Fastify's logger type leaves out. */
function setBindings (log: FastifyBaseLogger, bindings: Bindings): void {
  (log as FastifyBaseLogger & { setBindings?: (bindings: Bindings) => void }).setBindings?.(bindings)
}

/**
 * Adds `bindings` to every later line of a request's logger (the trace ids, src/tracing-sdk.ts);
 * on the lazy logger no child is made for it.
 */
export function addLogBindings (log: FastifyBaseLogger, bindings: Bindings): void {
  if (log instanceof RequestLogger) log.addBindings(bindings)
  else setBindings(log, bindings)
}

export const lazyChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) => new RequestLogger(logger, bindings, options)

/** Whether debug lines are written: the levels at or below debug (pino's own names). */
export const debugging = (log: FastifyBaseLogger): boolean => log.level === 'debug' || log.level === 'trace'

/** An answer slower than this is logged at info whatever its status. */
export const SLOW_MS = 1000

/** Answers refused at once under load (OverloadedError): counted in a summary, not written one by one. */
const shedRequests = new WeakSet<FastifyRequest>()

/** Marks a request the service sheds (the error handler, for OverloadedError). */
export function countAsShed (request: FastifyRequest): void {
  shedRequests.add(request)
}

/** How often, at most, the shed answers' summary line is written. */
const SHED_SUMMARY_MS = 1000

/**
 * One line per answer instead of Fastify's two per request: at info when it failed (4xx, 5xx)
 * or was slow, else at debug. Two info lines per request cost more CPU than all the rest of
 * a cached read; LOG_LEVEL=debug brings every line back. A quiet answer builds no line object
 * at all. Each line names the request (method and URL) and its time in milliseconds.
 */
export class AnswerLog extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    if (debugging(request.log)) request.log.debug({ req: request }, 'incoming request')
  }

  #shed = 0
  #summary: NodeJS.Timeout | undefined

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (shedRequests.has(request) && !debugging(reply.log)) {
      this.#countShed(request)
      return
    }
    const failed = (error !== null && error !== undefined) || reply.statusCode >= 400
    if (!failed && reply.elapsedTime < SLOW_MS && !debugging(reply.log)) return
    // The request as the debug line shows it (method, URL, address: the logger's serializer
    // and redaction), so a failed answer's line says what failed; the time to 0.01 ms.
    const line = { req: request, res: reply, responseTime: Math.round(reply.elapsedTime * 100) / 100 }
    if (error !== null && error !== undefined) reply.log.error({ ...line, err: error }, 'request errored')
    else if (failed || reply.elapsedTime >= SLOW_MS) reply.log.info(line, 'request completed')
    else reply.log.debug(line, 'request completed')
  }

  /**
   * One warn line a second at most while the service sheds: under a flood of clients that
   * resend a refusal at once, a line per refusal took a fifth of the event loop (bench:shedding's
   * profile), the very core the work being protected needs.
   */
  #countShed (request: FastifyRequest): void {
    this.#shed++
    if (this.#summary !== undefined) return
    const log = request.server.log
    this.#summary = setTimeout(() => {
      log.warn({ shed: this.#shed, seconds: SHED_SUMMARY_MS / 1000 }, 'requests shed (503 with Retry-After) in the last second')
      this.#shed = 0
      this.#summary = undefined
    }, SHED_SUMMARY_MS)
    this.#summary.unref()
  }
}
