import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/** pino's numeric levels, for the check a disabled call makes without building a child. */
const VALUES: Record<string, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10, silent: Infinity }

/**
 * A request's logger that becomes the real pino child (with its `reqId` binding) only when a
 * line is written at an enabled level, or someone asks for a child of it. Fastify makes one
 * logger per request, and a pino child costs ~2-3 µs to make (its bindings are serialized at
 * once): on a cached read that answers quietly, no line is ever written, so none is made.
 */
class RequestLogger implements FastifyBaseLogger {
  #real: FastifyBaseLogger | undefined

  constructor (private readonly parent: FastifyBaseLogger, private readonly bindings: Bindings, private readonly options: ChildLoggerOptions) {}

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

export const lazyChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, options) => new RequestLogger(logger, bindings, options)
