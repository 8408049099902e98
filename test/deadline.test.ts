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
