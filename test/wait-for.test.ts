import pino from 'pino'
import t from 'tap'
import { errorCode, StartupWaitError, waitFor } from '../src/wait-for'
import { logLines } from './support/app'

interface Line { level: number, msg: string, service: string, attempt: number, code?: string, retryInMs?: number, err?: unknown }

/** An error as a driver throws it: a code, and a stack an operator does not need per attempt. */
const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3307'), { code: 'ECONNREFUSED' })

t.test('a service that answers at once: its answer, and not a line logged', async (t) => {
  const { stream, lines } = logLines<Line>()
  t.equal(await waitFor('mysql', async () => 'pool', { log: pino(stream), at: '127.0.0.1:3307', waitMs: 1000 }), 'pool')
  t.same(lines, [])
})

t.test('a service down at first is retried with a doubling delay, one short warning per attempt, until it answers', async (t) => {
  const { stream, lines } = logLines<Line>()
  let calls = 0
  const started = performance.now()
  const result = await waitFor('redis', async () => {
    calls++
    if (calls < 3) throw refused()
    return 'client'
  }, { log: pino(stream), at: 'cache:6379', waitMs: 10_000 })
  const ms = performance.now() - started
  t.equal(result, 'client')
  t.equal(calls, 3)
  t.ok(ms >= 700, `waited 250 + 500 ms between attempts (${Math.round(ms)} ms)`)
  t.match(lines, [
    { level: 40, service: 'redis', attempt: 1, code: 'ECONNREFUSED', retryInMs: 250, msg: 'redis cache:6379 not answering (ECONNREFUSED), attempt 1; retrying in 250 ms' },
    { level: 40, service: 'redis', attempt: 2, retryInMs: 500, msg: 'redis cache:6379 not answering (ECONNREFUSED), attempt 2; retrying in 500 ms' },
    { level: 30, service: 'redis', attempt: 3, msg: 'redis cache:6379 answering, attempt 3' }
  ])
  t.equal(lines.length, 3)
  for (const line of lines) {
    t.equal(line.err, undefined, 'no error object, so no stack')
    t.ok(JSON.stringify(line).length < 300, `a short line (${JSON.stringify(line).length} bytes)`)
  }
})

t.test('bounded: a service that never answers ends the wait after waitMs with one final error', async (t) => {
  const { stream, lines } = logLines<Line>()
  let calls = 0
  const started = performance.now()
  await t.rejects(waitFor('mysql', async () => {
    calls++
    throw Object.assign(new Error('getaddrinfo ENOTFOUND db.example'), { code: 'ENOTFOUND' })
  }, { log: pino(stream), at: 'db.example:3306', waitMs: 1200 }), new StartupWaitError('gave up on mysql at db.example:3306 after 1.2 s (ENOTFOUND)'))
  const ms = performance.now() - started
  t.ok(ms >= 1200 && ms < 1700, `gave up after the wait, not before nor long after (${Math.round(ms)} ms)`)
  // 250 + 500 ms, then what is left of the 1.2 s (not the 1 s the backoff is at): four
  // attempts, a warning after each but the last.
  t.equal(calls, 4)
  t.same(lines.map((line) => line.attempt), [1, 2, 3])
  t.same(lines.slice(0, 2).map((line) => line.retryInMs), [250, 500])
  const last = lines[2]?.retryInMs ?? 0
  t.ok(last > 300 && last <= 450, `the last retry waits only for what is left (${last} ms)`)
  t.match(lines[2], { msg: `mysql db.example:3306 not answering (ENOTFOUND), attempt 3; retrying in ${last} ms` })
})

t.test('no wait at all: one attempt, then the final error', async (t) => {
  let calls = 0
  await t.rejects(waitFor('mongodb', async () => { calls++; throw refused() }, { log: pino({ level: 'silent' }), at: 'm:27017', waitMs: 0 }),
    { message: 'gave up on mongodb at m:27017 after 0 ms (ECONNREFUSED)' })
  t.equal(calls, 1)
})

t.test('an abort signal ends the wait at once, between attempts and during one', async (t) => {
  const log = pino({ level: 'silent' })
  const between = new AbortController()
  const started = performance.now()
  setTimeout(() => between.abort('SIGINT'), 100)
  await t.rejects(waitFor('mysql', async () => { throw refused() }, { log, at: 'h:1', waitMs: 60_000, signal: between.signal }),
    { name: 'StartupWaitError', message: 'stopped waiting for mysql at h:1: the process was told to stop' })
  t.ok(performance.now() - started < 500, 'while sleeping before a retry')

  const during = new AbortController()
  const hung = new Promise<never>(() => {})
  setTimeout(() => during.abort('SIGTERM'), 100)
  const at = performance.now()
  await t.rejects(waitFor('redis', async () => await hung, { log, at: 'h:2', waitMs: 60_000, signal: during.signal }), { name: 'StartupWaitError' })
  t.ok(performance.now() - at < 500, 'while an attempt hangs')

  const already = new AbortController()
  already.abort('SIGINT')
  let calls = 0
  await t.rejects(waitFor('mysql', async () => { calls++ }, { log, at: 'h:3', waitMs: 60_000, signal: already.signal }), { name: 'StartupWaitError' })
  t.equal(calls, 0, 'already stopped: no attempt at all')
})

t.test('the error code: the driver\'s, a cause\'s, one in the message, else the first line', async (t) => {
  t.equal(errorCode(Object.assign(new Error('x'), { code: 'ER_ACCESS_DENIED_ERROR' })), 'ER_ACCESS_DENIED_ERROR')
  t.equal(errorCode(new Error('server selection failed', { cause: Object.assign(new Error('y'), { code: 'ECONNREFUSED' }) })), 'ECONNREFUSED')
  t.equal(errorCode(new AggregateError([refused(), refused()], '')), 'ECONNREFUSED')
  t.equal(errorCode(new Error('connect ETIMEDOUT 10.0.0.1:27017')), 'ETIMEDOUT')
  t.equal(errorCode(new Error('redis did not answer within 3000 ms\n    at stack')), 'redis did not answer within 3000 ms')
})
