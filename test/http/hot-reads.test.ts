import type { IncomingMessage, ServerResponse } from 'node:http'
import pino from 'pino'
import t from 'tap'
import { createHotReads, type HotRead, type Representation } from '../../src/http/hot-reads'

/**
 * How a recorded answer is read again (src/http/hot-reads.ts): a peek the cache answers at
 * once is answered within the request's own event; anything else takes the route's read, and
 * whatever is not the recorded representation goes to Fastify. Real HTTP: test/routes/hot-reads.test.ts.
 */

const BODY = Buffer.from('{"id":1}')

function harness () {
  const lines: Array<{ msg: string }> = []
  const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  const hot = createHotReads({ limit: 10, open: () => true, requestId: () => 'rid', log })
  let toFastify = 0
  const handler = hot.wrap(() => { toFastify++ })
  const answered: Array<{ headers: unknown, body: unknown }> = []
  const request = (url: string): void => {
    const req = { method: 'GET', url, headers: {}, socket: {} } as unknown as IncomingMessage
    let headers: unknown
    const res = {
      headersSent: false,
      // As Node's: what it was given is read at once (the caller may reuse the array).
      writeHead (_status: number, h: unknown[]) { headers = [...h]; return this },
      end (body: unknown) { answered.push({ headers, body }); return this }
    } as unknown as ServerResponse
    handler(req, res)
  }
  const entry = (over: Partial<HotRead>): HotRead => ({
    read: async () => { throw new Error('not read in this case') },
    tag: 't1',
    headers: ['etag', '"t1"'],
    observe: undefined,
    ...over
  })
  return { hot, request, answered, fastify: () => toFastify, lines, entry }
}

const settled = (): Promise<void> => new Promise((resolve) => { setImmediate(resolve) })

t.test('a peek with the recorded tag is answered at once: no promise, no read', async (t) => {
  const { hot, request, answered, fastify, entry } = harness()
  let reads = 0
  hot.record('/books/1', entry({ read: async () => { reads++; return { body: BODY, tag: 't1' } }, peek: () => ({ body: BODY, tag: 't1' }) }))
  request('/books/1')
  t.equal(answered.length, 1, 'answered before wrap returned')
  t.same(answered[0], { headers: ['x-request-id', 'rid', 'etag', '"t1"'], body: BODY })
  await settled()
  t.equal(reads, 0)
  t.equal(fastify(), 0)
})

t.test('a peek with another tag goes to Fastify; no peek, the route\'s read answers', async (t) => {
  const { hot, request, answered, fastify, entry } = harness()
  hot.record('/books/1', entry({ peek: (): Representation => ({ body: Buffer.from('{}'), tag: 't2' }) }))
  request('/books/1')
  t.equal(fastify(), 1, 'changed: the route answers it')
  t.equal(answered.length, 0)

  hot.record('/books/2', entry({ read: async () => ({ body: BODY, tag: 't1' }), peek: () => undefined }))
  request('/books/2')
  t.equal(answered.length, 0, 'nothing at once')
  await settled()
  t.equal(answered.length, 1, 'the read answered it')
  t.equal(fastify(), 1)
})

t.test('a peek that throws costs the read, logged, never the process', async (t) => {
  const { hot, request, answered, fastify, lines, entry } = harness()
  hot.record('/books/1', entry({ read: async () => ({ body: BODY, tag: 't1' }), peek: () => { throw new Error('defect') } }))
  request('/books/1')
  await settled()
  t.equal(answered.length, 1)
  t.equal(fastify(), 0)
  t.match(lines, [{ msg: 'hot read failed' }])
})
