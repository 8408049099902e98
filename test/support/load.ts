import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { Book } from '../../src/schemas/book'
import { SAMPLE_BOOK, bearer } from './app'

/**
 * The one load harness of the fault suite: a bounded read/write load against the app, in
 * process (`fastify.inject`) or over HTTP, while a test freezes, kills or restarts what the
 * app depends on. It counts what a client would notice:
 * - failed requests: an answer the test does not accept (by default anything but 200), a
 *   network error, or no answer within `timeoutMs` (a hang);
 * - slow requests: answered after more than `slowMs`;
 * - stale reads: a 200 read that shows a book older than a write acknowledged (200) before
 *   the read started. Each book has one writer, which PUTs titles `<tag> <id> v<n>` with n
 *   counting up, so "older" is a smaller n.
 * Every request is stamped, and the test names moments (mark()) to read figures per phase.
 */

export interface Answer { status: number, body: string, headers: Record<string, string | string[] | number | undefined> }
export interface Request { method?: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, headers?: Record<string, string>, payload?: unknown }
export type Send = (request: Request) => Promise<Answer>

/** Requests through fastify.inject: the whole app, no sockets. */
export function injector (app: FastifyInstance): Send {
  return async ({ method = 'GET', url, headers, payload }) => {
    const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) })
    return { status: res.statusCode, body: res.body, headers: res.headers }
  }
}

/** Requests over HTTP to a listening server (keep-alive, as fetch does by default). */
export function httpClient (base: string): Send {
  return async ({ method = 'GET', url, headers = {}, payload }) => {
    const res = await fetch(new URL(url, base), {
      method,
      headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: payload === undefined ? undefined : JSON.stringify(payload)
    })
    return { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers) }
  }
}

export interface Sample {
  kind: 'read' | 'write'
  /** When it was sent, in ms since the load started. */
  at: number
  ms: number
  /** 0 when no answer came (network error, or none within timeoutMs). */
  status: number
  failed: boolean
  stale: boolean
  /** Any answer but a 200: its status and the error shape's code and message, or 'no answer'. */
  error?: string
}

export interface Stats {
  count: number
  failed: number
  slow: number
  stale: number
  /** Answers by status (0: none). */
  statuses: Record<string, number>
  /** Answers other than 200, by status, code and message: what a failed check names. */
  errors: Record<string, number>
  p50: number
  p99: number
  max: number
  /** Requests a second over the window. */
  rate: number
  /** When the first and the last stale read of the window were sent, in ms from the window's start. */
  staleSpan?: [number, number]
}

export interface LoadOptions {
  /** Where the writes go. */
  writer: Send
  /** Where the reads go, in turn (several instances: writers on one, readers on the other). */
  readers: Send[]
  /** A token allowed to PUT books (Author). */
  token: string
  /** The books the load writes and reads; made by seedBooks(). */
  books: readonly number[]
  tag: string
  writeLoops?: number
  readLoops?: number
  /** A request answered later than this is slow. */
  slowMs: number
  /** A request not answered within this failed (a hang), and the loop moves on. */
  timeoutMs: number
  /** The load stops by itself after this, whatever the test does. */
  maxMs: number
  /** Whether an answer is acceptable (default: a 200). */
  accept?: (kind: 'read' | 'write', answer: Answer) => boolean
  /** Pause between two reads of a loop, so the load stays bounded (default 1 ms). */
  pauseMs?: number
  /** Pause between two writes of a loop (default 50 ms: writes are rarer than reads, so the cache gets hits). */
  writePauseMs?: number
  /** More URLs the read loops take in turn (reviews, ...): only whether the answer is accepted is counted. */
  extraReads?: readonly string[]
  /**
   * How old a read may be and not count as stale (default 0): it must show every write
   * acknowledged at least this long before it began (a replica's lag bound seen from another instance).
   */
  staleAllowanceMs?: number
}

const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Creates `count` books titled `<tag> <id> v0` (renamed so the title carries the id). */
export async function seedBooks (send: Send, token: string, tag: string, count: number): Promise<number[]> {
  const ids: number[] = []
  for (let i = 0; i < count; i++) {
    const created = await send({ method: 'POST', url: '/books', headers: bearer(token), payload: { ...SAMPLE_BOOK, title: `${tag} new` } })
    if (created.status !== 201) throw new Error(`seeding failed: ${created.status} ${created.body}`)
    const { id } = JSON.parse(created.body) as Book
    const named = await send({ method: 'PUT', url: `/books/${id}`, headers: bearer(token), payload: { ...SAMPLE_BOOK, title: `${tag} ${id} v0` } })
    if (named.status !== 200) throw new Error(`seeding failed: ${named.status} ${named.body}`)
    ids.push(id)
  }
  return ids
}

/** The version a title shows, or undefined when it is not one of the load's titles. */
function versionOf (title: string, tag: string): { id: number, version: number } | undefined {
  const match = new RegExp(`^${tag} (\\d+) v(\\d+)$`).exec(title)
  return match === null ? undefined : { id: Number(match[1]), version: Number(match[2]) }
}

async function withTimeout (promise: Promise<Answer>, ms: number): Promise<Answer | undefined> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })
  try {
    return await Promise.race([promise, hang])
  } catch {
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

export function statsOf (samples: readonly Sample[], slowMs: number, windowMs: number, windowStart = 0): Stats {
  const stale = samples.filter((s) => s.stale).map((s) => s.at - windowStart)
  const latencies = samples.map((s) => s.ms).sort((a, b) => a - b)
  const statuses: Record<string, number> = {}
  const errors: Record<string, number> = {}
  for (const s of samples) {
    statuses[s.status] = (statuses[s.status] ?? 0) + 1
    if (s.error !== undefined) errors[s.error] = (errors[s.error] ?? 0) + 1
  }
  return {
    count: samples.length,
    failed: samples.filter((s) => s.failed).length,
    slow: samples.filter((s) => s.ms > slowMs).length,
    stale: samples.filter((s) => s.stale).length,
    statuses,
    errors,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? 0,
    rate: windowMs > 0 ? Math.round(samples.length / (windowMs / 1000)) : 0,
    ...(stale.length > 0 ? { staleSpan: [Math.min(...stale), Math.max(...stale)] as [number, number] } : {})
  }
}

export interface Load {
  /** Names this moment, to read figures from or to it. */
  mark (name: string): void
  /** Stops the loops (each finishes its request in flight) and returns every sample. */
  stop (): Promise<LoadResult>
}

export interface LoadResult {
  samples: readonly Sample[]
  /** Per book, the highest version whose PUT was acknowledged (200): what the book must show at least, at the end. */
  acked: ReadonlyMap<number, number>
  /** Figures of the `kind` requests sent between two marks ('start', 'end' always exist), skipping `skipMs` after the first. */
  window (kind: 'read' | 'write', from: string, to: string, skipMs?: number): Stats
  /** When a mark was made, in ms since the epoch: the clock of the app's log lines. */
  epochOf (mark: string): number
}

export function startLoad (options: LoadOptions): Load {
  const { writer, readers, token, books, tag, slowMs, timeoutMs, maxMs, writeLoops = 2, readLoops = 4, pauseMs = 1, writePauseMs = 50, extraReads = [], staleAllowanceMs = 0 } = options
  const accept = options.accept ?? ((_kind, answer) => answer.status === 200)
  const t0 = performance.now()
  const now = (): number => performance.now() - t0
  const marks = new Map<string, number>([['start', 0]])
  const samples: Sample[] = []
  /** The highest version of each book whose PUT answered 200. */
  const acked = new Map<number, number>(books.map((id) => [id, 0]))
  /** With an allowance: each book's acknowledged versions and when, in order. */
  const ackTimes = new Map<number, Array<{ at: number, version: number }>>(books.map((id) => [id, [{ at: 0, version: 0 }]]))
  /** What a read beginning now must show at least. */
  const expectedNow = (): Map<number, number> => {
    if (staleAllowanceMs <= 0) return new Map(acked)
    const cutoff = now() - staleAllowanceMs
    return new Map(books.map((id) => [id, [...(ackTimes.get(id) ?? [])].reverse().find((a) => a.at <= cutoff)?.version ?? 0]))
  }
  let stopping = false
  const stopAt = maxMs

  async function timed (kind: 'read' | 'write', send: Send, request: Request): Promise<{ sample: Sample, answer: Answer | undefined }> {
    const at = now()
    const answer = await withTimeout(send(request), timeoutMs)
    const ms = now() - at
    const status = answer?.status ?? 0
    const sample: Sample = { kind, at, ms, status, failed: answer === undefined || !accept(kind, answer), stale: false, ...(status === 200 ? {} : { error: describe(answer) }) }
    samples.push(sample)
    return { sample, answer }
  }

  async function writeLoop (mine: readonly number[]): Promise<void> {
    const next = new Map(mine.map((id) => [id, 1]))
    for (let i = 0; !stopping && now() < stopAt && mine.length > 0; i++) {
      const id = mine[i % mine.length]!
      const version = next.get(id)!
      const { answer } = await timed('write', writer, { method: 'PUT', url: `/books/${id}`, headers: bearer(token), payload: { ...SAMPLE_BOOK, title: `${tag} ${id} v${version}` } })
      // Only a 200 is acknowledged; a failed PUT may or may not have landed, so its version
      // is never reused: the next PUT goes one higher, and stale stays well-defined.
      if (answer?.status === 200) {
        acked.set(id, Math.max(acked.get(id) ?? 0, version))
        ackTimes.get(id)?.push({ at: now(), version })
      }
      next.set(id, version + 1)
      await sleep(writePauseMs)
    }
  }

  async function readLoop (loop: number): Promise<void> {
    for (let i = 0; !stopping && now() < stopAt; i++) {
      const reader = readers[(loop + i) % readers.length]!
      const turn = i % (2 + extraReads.length)
      const single = turn === 0
      const id = books[(loop + i) % books.length]!
      const expected = expectedNow()
      const url = single ? `/books/${id}` : turn === 1 ? `/books?q=${tag}&limit=100` : extraReads[turn - 2]!
      const { sample, answer } = await timed('read', reader, { url })
      if (answer?.status === 200 && turn < 2) {
        const shown = single ? [JSON.parse(answer.body) as Book] : JSON.parse(answer.body) as Book[]
        const seen = new Set<number>()
        for (const book of shown) {
          const v = versionOf(book.title, tag)
          if (v === undefined) continue
          seen.add(v.id)
          if (v.version < (expected.get(v.id) ?? 0)) sample.stale = true
        }
        // A list that leaves out one of the books (all exist before the load starts) is stale too.
        if (!single && books.some((b) => !seen.has(b))) sample.stale = true
      }
      await sleep(pauseMs)
    }
  }

  const owned = Array.from({ length: writeLoops }, (_, loop) => books.filter((_id, i) => i % writeLoops === loop))
  const running = [
    ...owned.map((mine) => writeLoop(mine)),
    ...Array.from({ length: readLoops }, (_, loop) => readLoop(loop))
  ]

  return {
    mark (name) { marks.set(name, now()) },
    async stop () {
      stopping = true
      await Promise.all(running)
      marks.set('end', now())
      return {
        samples,
        acked,
        window (kind, from, to, skipMs = 0) {
          const start = marks.get(from)
          const end = marks.get(to)
          if (start === undefined || end === undefined) throw new Error(`no mark ${start === undefined ? from : to}`)
          const inside = samples.filter((s) => s.kind === kind && s.at >= start + skipMs && s.at < end)
          return statsOf(inside, slowMs, end - start - skipMs, start)
        },
        epochOf (mark) {
          const at = marks.get(mark)
          if (at === undefined) throw new Error(`no mark ${mark}`)
          return performance.timeOrigin + t0 + at
        }
      }
    }
  }
}

/** An answer that is not a 200, as a failed check names it (the error shape holds no secret). */
function describe (answer: Answer | undefined): string {
  if (answer === undefined) return 'no answer'
  try {
    const { code, message } = JSON.parse(answer.body) as { code?: unknown, message?: unknown }
    return `${answer.status} ${String(code)}: ${String(message).slice(0, 120)}`
  } catch {
    return `${answer.status} (not JSON)`
  }
}

/** ': ' and the answers other than 200 of a window, by kind, or nothing when there were none. */
export const errorsOf = (s: Stats): string => Object.keys(s.errors).length === 0 ? '' : `: ${JSON.stringify(s.errors)}`

const fmt = (s: Stats): string =>
  `n=${s.count} failed=${s.failed} slow=${s.slow} stale=${s.stale} p50=${s.p50.toFixed(1)}ms p99=${s.p99.toFixed(1)}ms max=${s.max.toFixed(1)}ms rate=${s.rate}/s statuses=${JSON.stringify(s.statuses)}${Object.keys(s.errors).length === 0 ? '' : ` errors=${JSON.stringify(s.errors)}`}${s.staleSpan === undefined ? '' : ` stale-from=${s.staleSpan[0].toFixed(0)}ms stale-to=${s.staleSpan[1].toFixed(0)}ms`}`

/**
 * One summary line per phase, on stderr (the TAP reporter shows it) and as a TAP comment, so
 * docs/RELIABILITY.md can be written from a run's output: `FAULTS <case> | <phase> | reads ... | writes ...`.
 */
export function report (t: Test, name: string, phase: string, reads: Stats, writes?: Stats, label = 'reads'): void {
  const line = `FAULTS ${name} | ${phase} | ${label} ${fmt(reads)}${writes === undefined ? '' : ` | writes ${fmt(writes)}`}`
  process.stderr.write(`${line}\n`)
  t.comment(line)
}

/** A stretch of a fault test's load: its name in the FAULTS lines, and the marks it runs from and to. */
export type Phase = readonly [name: string, from: string, to: string]

export interface PhaseChecks {
  /** The case, as the FAULTS lines name it. */
  name: string
  /** What each phase must have carried: reads, or reads and writes (default: reads). */
  busy?: 'reads' | 'both'
  /** Phases, by their `from` mark, that may carry no request: a stall a request waits out. */
  quiet?: readonly string[]
  /** Where the load went, for the messages ('writes on node 1, reads on node 2'). */
  where?: string
}

/**
 * The verdict on a load that ran through faults, phase by phase: one FAULTS line each
 * (report()), the load ran, and a client noticed nothing: no failed read or write, and no
 * read that misses a write acknowledged before it began.
 */
export function checkPhases (t: Test, result: LoadResult, phases: readonly Phase[], { name, busy = 'reads', quiet = [], where }: PhaseChecks): void {
  const on = where === undefined ? '' : ` (${where})`
  for (const [phase, from, to] of phases) {
    const reads = result.window('read', from, to)
    const writes = result.window('write', from, to)
    report(t, name, phase, reads, writes)
    if (!quiet.includes(from)) {
      t.ok(reads.count > 0 && (busy === 'reads' || writes.count > 0), `${phase}: ${reads.count} reads, ${writes.count} writes ran${on}`)
    }
    t.equal(reads.stale, 0, `${phase}: no read misses an acknowledged write${on}`)
    t.equal(reads.failed, 0, `${phase}: no failed read${errorsOf(reads)}`)
    t.equal(writes.failed, 0, `${phase}: no failed write (${writes.count})${errorsOf(writes)}`)
  }
}
