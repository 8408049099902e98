import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import t, { type Test } from 'tap'
import { createMailWorker, backoffMs, GIVE_UP_MS, MAX_BACKOFF_MS } from '../../src/mail/worker'
import type { MailTransport } from '../../src/mail/transport'
import { createSqlStores } from '../../src/stores/sql'
import type { OutboxStore, OutgoingMessage } from '../../src/stores/types'
import { logLines, uniqueEmail } from '../support/app'
import { onEachSqlBackend } from '../support/sql'

interface LogLine { level: number, msg: string, outboxId?: number, code?: string, responseCode?: number, retryInMs?: number, attempts?: number }

/** A transport the test switches between up (accepts), down (refuses at once) and hung (never answers). */
function fakeTransport () {
  const sent: OutgoingMessage[] = []
  let calls = 0
  let mode: 'up' | 'down' | 'hung' = 'up'
  const transport: MailTransport & { sent: OutgoingMessage[], calls: () => number, set: (m: typeof mode) => void } = {
    name: 'smtp',
    sent,
    calls: () => calls,
    set (m) { mode = m },
    async send (message, signal) {
      calls++
      if (mode === 'down') throw Object.assign(new Error(`Connection refused while sending to ${message.to}`), { code: 'ECONNECTION' })
      if (message.to.startsWith('rejected-')) throw Object.assign(new Error(`550 No such user: ${message.to}`), { code: 'EENVELOPE', responseCode: 550 })
      if (mode === 'hung') {
        await new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason as Error)))
      }
      sent.push(message)
    },
    close () {}
  }
  return transport
}

const message = (to = uniqueEmail()): OutgoingMessage => ({ user_id: null, to, subject: 'Hello', text: 'Token: abc', html: '<p>x</p>' })

async function until (what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(20)
  }
}

/** No log line may carry an address (the contract: no addresses in logs). */
function noAddresses (t: Test, lines: LogLine[]): void {
  t.notOk(lines.some((l) => JSON.stringify(l).includes('@')), 'no address in any log line')
}

t.test('backoff: 1 s doubling, never more than 60 s apart (the contract: at least every 60 seconds)', async (t) => {
  t.same([0, 1, 2, 3, 4, 5, 6, 7, 8, 50].map(backoffMs), [1000, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000])
  t.equal(MAX_BACKOFF_MS, 60_000)
  t.equal(GIVE_UP_MS, 24 * 3600 * 1000)
  t.throws(() => createMailWorker({ outbox: {} as OutboxStore, transport: fakeTransport(), log: pino({ level: 'silent' }), leaseMs: 20_000, sendTimeoutMs: 15_000 }),
    /lease must outlast a send/, 'a lease shorter than a send could let a second instance send it too')
})

/** The worker's rules on one SQL backend: `pair` gives two outbox stores on one database (two instances). */
function workerSuite (t: Test, pair: () => { outbox: OutboxStore, rival: OutboxStore }): void {
  /** Each test starts from an empty outbox. */
  async function fresh (): Promise<{ outbox: OutboxStore, rival: OutboxStore }> {
    const stores = pair()
    const far = Date.now() + 365 * 24 * 3600 * 1000
    for (const m of await stores.outbox.claim(new Date(far).toISOString(), new Date(far + 1).toISOString(), 10_000)) await stores.outbox.remove(m.id)
    return stores
  }
  const now = (offsetMs = 0): string => new Date(Date.now() + offsetMs).toISOString()
  const left = async (outbox: OutboxStore): Promise<number> => (await outbox.claim(now(365 * 24 * 3600 * 1000), now(365 * 24 * 3600 * 1000 + 1), 10_000)).length

  /** A started worker whose first look (at start) is over, so the test's nudges are the only ones. */
  async function worker (t: Test, outbox: OutboxStore, transport: MailTransport, options: { pollMs?: number, leaseMs?: number, sendTimeoutMs?: number, stopMs?: number } = {}) {
    const { stream, lines } = logLines<LogLine>()
    const w = createMailWorker({ outbox, transport, log: pino({ level: 'info' }, stream), ...options })
    w.start()
    t.teardown(() => w.stop())
    await sleep(100)
    return { w, lines }
  }

  t.test('a nudged message leaves at once and leaves the outbox', async (t) => {
    const { outbox } = await fresh()
    const transport = fakeTransport()
    const { w, lines } = await worker(t, outbox, transport, { pollMs: 60_000 })
    await sleep(50)
    const started = Date.now()
    const to = uniqueEmail()
    await outbox.enqueue(message(to), now())
    w.nudge()
    await until('sent', () => transport.sent.length === 1)
    t.ok(Date.now() - started < 1000, 'well within the contract\'s 5 seconds')
    t.equal(transport.sent[0]?.to, to)
    await until('removed', async () => (await left(outbox)) === 0)
    t.match(lines, [{ msg: 'mail sent', attempts: 1 }])
    noAddresses(t, lines)
  })

  t.test('a refused send is tried again after its backoff; one refusal ends the round', async (t) => {
    const { outbox } = await fresh()
    const transport = fakeTransport()
    transport.set('down')
    const { w, lines } = await worker(t, outbox, transport, { pollMs: 60_000 })
    for (let i = 0; i < 3; i++) await outbox.enqueue(message(), now())
    w.nudge()
    await until('tried', () => lines.some((l) => l.msg === 'mail not sent; will retry'))
    await sleep(300)
    t.equal(transport.calls(), 1, 'the server is down: the other two wait rather than each waiting out a failure')
    t.match(lines.find((l) => l.msg === 'mail not sent; will retry'), { level: 40, code: 'ECONNECTION', attempts: 1, retryInMs: 1000 })
    transport.set('up')
    w.nudge()
    await until('the two untried ones sent at once', () => transport.sent.length === 2, 1000)
    await sleep(100)
    t.equal(transport.sent.length, 2, 'the refused one waits for its backoff (1 s)')
    await sleep(1000)
    w.nudge()
    await until('then the third', () => transport.sent.length === 3, 2000)
    await until('removed', async () => (await left(outbox)) === 0)
    noAddresses(t, lines)
  })

  t.test('a message the server refuses (an SMTP reply) does not hold back the rest of the round', async (t) => {
    const { outbox } = await fresh()
    const transport = fakeTransport()
    const { w, lines } = await worker(t, outbox, transport, { pollMs: 60_000 })
    await outbox.enqueue(message(`rejected-${uniqueEmail()}`), now(-1000))
    for (let i = 0; i < 2; i++) await outbox.enqueue(message(), now())
    w.nudge()
    await until('the other two sent in the same round', () => transport.sent.length === 2, 2000)
    t.match(lines.find((l) => l.msg === 'mail not sent; will retry'), { code: 'EENVELOPE', responseCode: 550, retryInMs: 1000 })
    noAddresses(t, lines)
  })

  t.test('a message not accepted within 24 hours is given up, logged without its address', async (t) => {
    const { outbox } = await fresh()
    const transport = fakeTransport()
    const id = await outbox.enqueue(message('old-reader@example.com'), now(-GIVE_UP_MS - 1000))
    const { w, lines } = await worker(t, outbox, transport, { pollMs: 60_000 })
    w.nudge()
    await until('given up', () => lines.some((l) => l.msg === 'mail given up: not accepted within 24 hours'))
    t.match(lines.find((l) => l.msg.startsWith('mail given up')), { level: 50, outboxId: id })
    t.equal(transport.calls(), 0, 'not sent')
    t.equal(await left(outbox), 0, 'gone from the outbox')
    noAddresses(t, lines)
  })

  t.test('a message claimed by an instance that died waits for the lease to run out, then another sends it', async (t) => {
    const { outbox, rival } = await fresh()
    await outbox.enqueue(message(), now())
    t.equal((await rival.claim(now(), now(1500), 1)).length, 1, 'claimed for 1.5 s by an instance that then dies')
    const transport = fakeTransport()
    const started = Date.now()
    await worker(t, outbox, transport, { pollMs: 100 })
    await sleep(1000)
    t.equal(transport.calls(), 0, 'not while the lease holds')
    await until('sent after the lease', () => transport.sent.length === 1, 3000)
    t.ok(Date.now() - started >= 1400, 'after the lease ran out')
  })

  t.test('two workers on one database, 20 messages: each sent exactly once', async (t) => {
    const { outbox, rival } = await fresh()
    const a = fakeTransport()
    const b = fakeTransport()
    const one = await worker(t, outbox, a, { pollMs: 50 })
    const two = await worker(t, rival, b, { pollMs: 50 })
    const recipients = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const m = message()
      recipients.add(m.to)
      await outbox.enqueue(m, now())
      one.w.nudge()
      two.w.nudge()
    }
    await until('all sent', () => a.sent.length + b.sent.length >= 20)
    await sleep(300)
    const sent = [...a.sent, ...b.sent].map((m) => m.to)
    t.equal(sent.length, 20, 'no message twice')
    t.same(new Set(sent), recipients, 'none missing')
    t.comment(`instance A sent ${a.sent.length}, B sent ${b.sent.length}`)
  })

  t.test('a send that hangs is cut at its deadline and tried again', async (t) => {
    const { outbox } = await fresh()
    const transport = fakeTransport()
    transport.set('hung')
    const { w, lines } = await worker(t, outbox, transport, { pollMs: 60_000, sendTimeoutMs: 300, leaseMs: 10_300 })
    await outbox.enqueue(message(), now())
    w.nudge()
    await until('cut', () => lines.some((l) => l.msg === 'mail not sent; will retry'), 2000)
    t.match(lines.find((l) => l.msg === 'mail not sent; will retry'), { code: 'TimeoutError' })
    transport.set('up')
    await sleep(1000)
    w.nudge()
    await until('sent on the next try', () => transport.sent.length === 1, 3000)
  })

  t.test('stop() with a hung send in hand returns within its bound; the message stays for the next start', async (t) => {
    const { outbox } = await fresh()
    const transport = fakeTransport()
    transport.set('hung')
    const { stream, lines } = logLines<LogLine>()
    const w = createMailWorker({ outbox, transport, log: pino({ level: 'info' }, stream), pollMs: 60_000, stopMs: 200 })
    w.start()
    await outbox.enqueue(message(), now())
    w.nudge()
    await until('in hand', () => transport.calls() === 1)
    const started = Date.now()
    await w.stop()
    const took = Date.now() - started
    t.ok(took >= 190 && took < 1500, `stopped in ${took} ms: the 200 ms allowed, then the abort`)
    t.match(lines, [{ msg: 'mail send still running at shutdown: aborted, the message stays in the outbox' }, { msg: 'mail not sent; will retry', code: 'AbortError' }])
    t.equal((await outbox.claim(now(2000), now(60_000), 10)).length, 1, 'still in the outbox, due again after its backoff')
  })
}

// Once per SQL backend, each with two connections to one database (two instances).
onEachSqlBackend(t, 'the mail worker', (t, [one, two]) => {
  workerSuite(t, () => ({ outbox: createSqlStores(one).outbox, rival: createSqlStores(two).outbox }))
})
