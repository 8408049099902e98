import t, { type Test } from 'tap'
import { AppError } from '../../src/domain/errors'
import { createConditionalWrite } from '../../src/services/conditional-write'

interface Item { id: number, version: number, tag: string }

/** One item store in memory: the write succeeds only while the version is the expected one. */
function setup (stored: Item | undefined) {
  const state = { item: stored, reads: 0 }
  const write = createConditionalWrite({
    what: 'review',
    read: async (_id: number) => { state.reads++; return state.item },
    tagOf: (item) => item.tag
  })
  const update = async (version: number | undefined): Promise<Item | undefined> => {
    if (state.item === undefined || (version !== undefined && state.item.version !== version)) return undefined
    state.item = { ...state.item, version: state.item.version + 1, tag: `t${state.item.version + 1}` }
    return state.item
  }
  return { state, write, update }
}

const rejection = async (t: Test, promise: Promise<unknown>, status: number, code: string): Promise<void> => {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof AppError, 'a domain error')
  t.match(err, { statusCode: status, code })
}

t.test('no condition: no read first, any version is written', async (t) => {
  const { state, write, update } = setup({ id: 1, version: 3, tag: 't3' })
  let asked: number | undefined = -1
  t.match(await write(1, undefined, async (v) => { asked = v; return update(v) }), { version: 4 })
  t.equal(asked, undefined)
  t.equal(state.reads, 0)
})

t.test('a listed tag: the write expects the version read', async (t) => {
  const { write, update } = setup({ id: 1, version: 3, tag: 't3' })
  let asked: number | undefined
  await write(1, ['x', 't3'], async (v) => { asked = v; return update(v) })
  t.equal(asked, 3)
})

t.test('* asks only that the item exists', async (t) => {
  const present = setup({ id: 1, version: 3, tag: 't3' })
  let asked: number | undefined = -1
  await present.write(1, '*', async (v) => { asked = v; return present.update(v) })
  t.equal(asked, undefined)
  await rejection(t, setup(undefined).write(1, '*', async () => 'never'), 404, 'REVIEW_NOT_FOUND')
})

t.test('404 before 412: a missing item is missing whatever the condition lists', async (t) => {
  await rejection(t, setup(undefined).write(1, ['nope'], async () => 'never'), 404, 'REVIEW_NOT_FOUND')
})

t.test('a tag not listed is 412, and nothing is written', async (t) => {
  const { state, write } = setup({ id: 1, version: 3, tag: 't3' })
  let wrote = false
  await rejection(t, write(1, ['t2'], async () => { wrote = true; return 'x' }), 412, 'PRECONDITION_FAILED')
  t.equal(wrote, false)
  t.equal(state.item?.version, 3)
})

t.test('the caller\'s own current read spares the first read', async (t) => {
  const { state, write, update } = setup({ id: 1, version: 3, tag: 't3' })
  await write(1, ['t3'], update, { id: 1, version: 3, tag: 't3' })
  t.equal(state.reads, 0)
})

t.test('a write that missed: a second read decides 404 (gone) or 412 (changed since the check)', async (t) => {
  const changed = setup({ id: 1, version: 3, tag: 't3' })
  await rejection(t, changed.write(1, ['t3'], async () => undefined), 412, 'PRECONDITION_FAILED')

  const gone = setup({ id: 1, version: 3, tag: 't3' })
  await rejection(t, gone.write(1, ['t3'], async () => { gone.state.item = undefined; return undefined }), 404, 'REVIEW_NOT_FOUND')

  const unconditional = setup({ id: 1, version: 3, tag: 't3' })
  await rejection(t, unconditional.write(1, undefined, async () => undefined), 404, 'REVIEW_NOT_FOUND')
  t.equal(unconditional.state.reads, 0, 'with no version expected, a miss can only mean gone')
})
