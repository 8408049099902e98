import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { withDeadline } from '../src/deadline'

const timers = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
const after = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), ms))

t.test('an answer within the deadline is passed on, and the deadline timer is cleared', async (t) => {
  const before = timers()
  t.equal(await withDeadline(after(5, 'answer'), 60_000, 'the store'), 'answer')
  t.equal(timers(), before, 'no timer left behind')
})

t.test('no answer within the deadline rejects, naming what did not answer', async (t) => {
  const before = timers()
  await t.rejects(withDeadline(after(1000, 'late'), 20, 'MySQL'), { message: 'MySQL did not answer within 20 ms' })
  t.equal(timers(), before + 1, 'only the late promise\'s own timer is still pending')
})

t.test('a failure within the deadline is passed on as it is', async (t) => {
  const failure = new Error('refused')
  await t.rejects(withDeadline(Promise.reject(failure), 60_000, 'Redis'), failure)
})

t.test('an answer that arrived while the event loop was held up past the deadline still wins', async (t) => {
  // A real socket: the answer is in its buffer when the loop resumes, as a database's would be.
  const server = createServer()
  await once(server.listen(0, '127.0.0.1'), 'listening')
  t.teardown(() => { server.close() })
  const accepted = once(server, 'connection')
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const [[peer]] = await Promise.all([accepted, once(client, 'connect')]) as [[Socket], unknown]
  t.teardown(() => { client.destroy(); peer.destroy() })
  const bounded = withDeadline(once(client, 'data').then(([chunk]) => String(chunk)), 50, 'the store')
  // The answer reaches the client's socket buffer at once (loopback), then the loop is held
  // past the deadline before anything can read it.
  peer.write('answer')
  const until = Date.now() + 200
  while (Date.now() < until) { /* held up, as by a long GC pause */ }
  t.equal(await bounded, 'answer')
})
