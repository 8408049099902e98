import t from 'tap'
import { buildLogged } from '../support/app'

interface Line { level: number, msg: string, reqId?: string, req?: { method: string, url: string }, res?: { statusCode: number }, responseTime?: number }

t.test('at info, a quiet answer writes no line and a failed one writes one, with its request id', async (t) => {
  const { app, lines } = await buildLogged<Line>(t, { logLevel: 'info' })
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
  const { app, lines } = await buildLogged<Line>(t, { logLevel: 'debug' })
  const before = lines.length
  const res = await app.inject({ url: '/books', headers: { 'x-request-id': 'trace-me-2' } })
  t.equal(res.statusCode, 200)
  const mine = lines.slice(before).filter((line) => line.reqId === 'trace-me-2')
  t.same(mine.map((line) => [line.level, line.msg]), [[20, 'incoming request'], [20, 'request completed']])
})

t.test('at warn, not even a 404 is logged', async (t) => {
  const { app, lines } = await buildLogged<Line>(t, { logLevel: 'warn' })
  const before = lines.length
  t.equal((await app.inject({ url: '/books/999999' })).statusCode, 404)
  t.equal(lines.length, before)
})

t.test('every request completed line names the method and URL, and its time to 0.01 ms', async (t) => {
  const { app, lines } = await buildLogged<Line>(t, { logLevel: 'debug' })
  const before = lines.length
  const answers = [
    await app.inject({ url: '/books/999999?fields=x', headers: { 'x-request-id': 'what-failed-1' } }),
    await app.inject({ method: 'POST', url: '/books', payload: {}, headers: { 'x-request-id': 'what-failed-2', authorization: 'Bearer not-a-secret-to-log' } }),
    await app.inject({ url: '/books', headers: { 'x-request-id': 'what-failed-3' } })
  ]
  t.same(answers.map((res) => res.statusCode), [404, 401, 200])
  const completed = lines.slice(before).filter((line) => line.msg === 'request completed')
  t.match(completed, [
    { level: 30, reqId: 'what-failed-1', req: { method: 'GET', url: '/books/999999?fields=x' }, res: { statusCode: 404 } },
    { level: 30, reqId: 'what-failed-2', req: { method: 'POST', url: '/books' }, res: { statusCode: 401 } },
    { level: 20, reqId: 'what-failed-3', req: { method: 'GET', url: '/books' }, res: { statusCode: 200 } }
  ])
  for (const line of completed) {
    const time = line.responseTime ?? -1
    t.ok(time >= 0 && Math.round(time * 100) / 100 === time, `responseTime ${time}: two decimals at most`)
  }
  t.notOk(JSON.stringify(lines).includes('not-a-secret-to-log'), 'the authorization header stays out')
})
