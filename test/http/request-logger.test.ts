import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import t, { type Test } from 'tap'
import { serverOptions } from '../../src/http/server-options'
import type { Settings } from '../../config/schema'
import app from '../../src/app'
import { logLines, testConfig } from '../support/app'

interface Line { level: number, msg: string, reqId?: string, res?: { statusCode: number } }

/** The app as src/build.ts assembles it, its log lines captured. */
async function logged (t: Test, overrides: Partial<Settings>): Promise<{ app: FastifyInstance, lines: Line[] }> {
  const { stream, lines } = logLines<Line>()
  const config = testConfig(overrides)
  const options = serverOptions(config)
  const fastify = Fastify({ ...options, logger: { ...(options.logger as object), stream } })
  await fastify.register(fp(app), { config })
  t.teardown(() => fastify.close())
  await fastify.ready()
  return { app: fastify, lines }
}

t.test('at info, a quiet answer writes no line and a failed one writes one, with its request id', async (t) => {
  const { app, lines } = await logged(t, { logLevel: 'info' })
  const before = lines.length
  const ok = await app.inject({ url: '/books' })
  t.equal(ok.statusCode, 200)
  t.equal(lines.length, before, 'nothing for a 200')
  const missing = await app.inject({ url: '/books/999999', headers: { 'x-request-id': 'trace-me-1' } })
  t.equal(missing.statusCode, 404)
  const answer = lines.slice(before)
  t.equal(answer.length, 1, 'one line for the 404')
  t.match(answer[0], { level: 30, msg: 'request completed', reqId: 'trace-me-1', res: { statusCode: 404 } })
})

t.test('at debug, both lines of every request carry its request id', async (t) => {
  const { app, lines } = await logged(t, { logLevel: 'debug' })
  const before = lines.length
  const res = await app.inject({ url: '/books', headers: { 'x-request-id': 'trace-me-2' } })
  t.equal(res.statusCode, 200)
  const mine = lines.slice(before).filter((line) => line.reqId === 'trace-me-2')
  t.same(mine.map((line) => [line.level, line.msg]), [[20, 'incoming request'], [20, 'request completed']])
})

t.test('at warn, not even a 404 is logged', async (t) => {
  const { app, lines } = await logged(t, { logLevel: 'warn' })
  const before = lines.length
  t.equal((await app.inject({ url: '/books/999999' })).statusCode, 404)
  t.equal(lines.length, before)
})
