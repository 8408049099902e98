import type { Attributes } from '@opentelemetry/api'

/**
 * What the seams (SQL executors, the Redis client, the MongoDB collections, the password
 * hasher, the mail transport) ask of tracing. Made by src/tracing-sdk.ts only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise there is none, and every wrapper below hands
 * back the function it was given: the hot path is the untraced code itself, and no
 * OpenTelemetry module is loaded (this file imports types only).
 */
export interface Tracing {
  /**
   * Runs `fn` in a span that is a child of the active one. Without an active span (a timer,
   * a start-up query) `fn` runs alone unless `root`: background polls would otherwise make a
   * trace each. A failure is recorded by its code or name only: a driver's message can quote
   * a bound value (MySQL's duplicate-entry error names the email).
   */
  span: <T>(name: string, attributes: Attributes, fn: () => Promise<T>, options?: SpanOptions) => Promise<T>
}

export interface SpanOptions {
  /** A call to another service (a database, Redis, SMTP): SpanKind CLIENT; else INTERNAL. */
  client?: boolean
  /** Traced even without an active span (a mail the worker sends on its own poll). */
  root?: boolean
}

export interface SpanDescription { name: string, attributes: Attributes }

/**
 * The one way a seam is traced: `fn` itself when tracing is off, else `fn` in a span that
 * `describe` names from the call's arguments (never from values bound into a query).
 */
export function traced<A extends unknown[], R> (
  tracing: Tracing | undefined,
  fn: (...args: A) => Promise<R>,
  describe: (...args: A) => SpanDescription,
  options?: SpanOptions
): (...args: A) => Promise<R> {
  if (tracing === undefined) return fn
  return async (...args: A) => {
    const { name, attributes } = describe(...args)
    return await tracing.span(name, attributes, () => fn(...args), options)
  }
}

/** The first keyword of a statement (SELECT, INSERT, ...), as db.operation.name wants it. */
const OPERATION = /^\s*(\w+)/
/** The first table a statement names, for the span name; a guess, never a value. */
const TARGET = /\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+[`"]?(\w+)/i

/**
 * A SQL statement's span: `SELECT books`, with db.query.text the statement as written, its
 * `?` placeholders unfilled (every store binds its values), per the database semantic conventions.
 */
export function sqlSpan (system: 'mysql' | 'sqlite', sql: string): SpanDescription {
  const operation = (OPERATION.exec(sql)?.[1] ?? 'SQL').toUpperCase()
  const target = TARGET.exec(sql)?.[1]
  return {
    name: target === undefined ? operation : `${operation} ${target}`,
    attributes: {
      'db.system': system,
      'db.system.name': system,
      'db.operation.name': operation,
      'db.query.text': sql,
      ...(target === undefined ? {} : { 'db.collection.name': target })
    }
  }
}
