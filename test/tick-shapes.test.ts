import t from 'tap'
import { pinnedTicks } from '../src/tick-shapes'

// What src/tick-shapes.ts relies on, checked on the Node.js that runs the tests (CI runs them
// on Node 20 and on the Dockerfile's Node 24): inside a nextTick callback the current async
// resource is Node's tick object, and it is what stays pinned. Were Node to answer something
// else, this fails, and the pin (a bench figure, not a behaviour) would quietly do nothing.
t.test('the object kept alive is one of nextTick\'s own tick objects', async (t) => {
  await new Promise<void>((resolve) => { process.nextTick(resolve) })
  t.equal(pinnedTicks.length, 1)
  const [tick] = pinnedTicks
  t.ok(tick !== undefined && typeof Reflect.get(tick, 'callback') === 'function', 'it has the callback nextTick queued')
  t.ok(tick !== undefined && Object.getOwnPropertySymbols(tick).map(String).includes('Symbol(async_id_symbol)'), 'and the async id Node gives every tick')
})
