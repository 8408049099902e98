import pino from 'pino'
import t from 'tap'
import { waitFor } from '../src/wait-for'
import { logLines } from './support/app'

interface Line { level: number, msg: string, service: string, attempt: number, retryInMs?: number }

t.test('a service that answers at once: its answer, and not a line logged', async (t) => {
  const { stream, lines } = logLines<Line>()
  t.equal(await waitFor('mysql', async () => 'pool', { log: pino(stream) }), 'pool')
  t.same(lines, [])
})

t.test('a service down at first is retried with a doubling delay, one warning per attempt, until it answers', async (t) => {
  const { stream, lines } = logLines<Line>()
  let calls = 0
  const started = performance.now()
  const result = await waitFor('redis', async () => {
    calls++
    if (calls < 3) throw new Error('ECONNREFUSED')
    return 'client'
  }, { log: pino(stream) })
  const ms = performance.now() - started
  t.equal(result, 'client')
  t.equal(calls, 3)
  t.ok(ms >= 700, `waited 250 + 500 ms between attempts (${Math.round(ms)} ms)`)
  t.match(lines, [
    { level: 40, service: 'redis', attempt: 1, retryInMs: 250, msg: 'redis is not answering (attempt 1); retrying in 250 ms' },
    { level: 40, service: 'redis', attempt: 2, retryInMs: 500 },
    { level: 30, service: 'redis', attempt: 3, msg: 'redis is answering' }
  ])
  t.equal(lines.length, 3)
})
