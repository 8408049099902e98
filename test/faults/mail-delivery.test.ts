import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { Settings } from '../../config/schema'
import { buildApp } from '../../src/build'
import { build, skipSuite, testConfig, uniqueEmail } from '../support/app'
import { mailbox, mailpitAvailable, throwawayMailpit, waitForMail, type ThrowawayMailpit } from '../support/mail'
import { scratchMysql } from '../support/servers'

/**
 * Mail through a real SMTP server (a private mailpit on free ports, killed, restarted and
 * frozen here) as the contract's "Delivery" says it: a message enqueued while the server is
 * down arrives after it is back, also across a restart of the service; with two instances on
 * one database each message arrives exactly once; a hung server does not hold the shutdown.
 * Messages go in as services put them: app.stores.outbox.enqueue, then app.mail.nudge().
 */

/** After the server is back, a message tried during the outage waits at most its backoff (≤ 60 s). */
const AFTER_OUTAGE_MS = 65_000

function report (t: Test, name: string, detail: string): void {
  const line = `FAULTS mail ${name} | ${detail}`
  process.stderr.write(`${line}\n`)
  t.comment(line)
}

async function enqueue (app: FastifyInstance, to: string, subject = 'Outbox test'): Promise<void> {
  await app.stores.outbox.enqueue({ user_id: null, to, subject, text: `For ${to}\nToken: abc`, html: '<p>test</p>' }, new Date().toISOString())
  app.mail.nudge()
}

/** A folder of its own for a SQLite file two apps share in turn or at once. */
function sqliteFile (t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-mail-fault-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return `sqlite:${path.join(dir, 'shared.db')}`
}

/** An app the test closes itself (a restart), closed at the end anyway if it has not. */
async function open (t: Test, overrides: Partial<Settings>): Promise<FastifyInstance> {
  const app = buildApp(testConfig(overrides))
  let closed = false
  app.addHook('onClose', async () => { closed = true })
  t.teardown(async () => { if (!closed) await app.close() })
  await app.ready()
  return app
}

/** Exactly `n` messages to `to` after the dust settles (a second copy would come within the poll). */
async function settledCount (app: FastifyInstance, to: string): Promise<number> {
  await sleep(2500)
  return (await mailbox(app, to)).length
}

if (!mailpitAvailable()) {
  skipSuite(t, 'mail fault suite', 'no mailpit on PATH (npm run services builds it into /usr/local/bin from the Go module proxy)')
} else {
  let mailpit: ThrowawayMailpit
  t.before(async () => { mailpit = await throwawayMailpit() })
  t.teardown(async () => { await mailpit.dispose() })
  /** Makes sure the server is up for the next test, whatever the last one left. */
  t.beforeEach(async () => {
    mailpit.signal('SIGCONT')
    if (!(await fetch(`${mailpit.apiUrl}/api/v1/info`).then((r) => r.ok, () => false))) await mailpit.start()
  })

  t.test('(a) SMTP down while a message is enqueued: it arrives after SMTP comes back, once', { timeout: 120_000 }, async (t) => {
    const app = await build(t, { smtpUrl: mailpit.smtpUrl })
    await mailpit.kill()
    const to = uniqueEmail()
    await enqueue(app, to)
    await sleep(3000)
    const startedAt = Date.now()
    await mailpit.start()
    const mail = await waitForMail(app, to, /^Outbox test$/, { timeoutMs: AFTER_OUTAGE_MS })
    report(t, 'smtp-down', `3 s outage; delivered ${Date.now() - startedAt} ms after SMTP came back`)
    t.equal(mail.token, 'abc')
    t.equal(await settledCount(app, to), 1, 'delivered exactly once')
  })

  t.test('(b) restarted with mail in the outbox: app A enqueues while SMTP is down and closes; app B on the same file, SMTP up, delivers it exactly once', { timeout: 120_000 }, async (t) => {
    const databaseUrl = sqliteFile(t)
    await mailpit.kill()
    const a = await open(t, { databaseUrl, smtpUrl: mailpit.smtpUrl })
    const to = uniqueEmail()
    await enqueue(a, to)
    await sleep(1500)
    await a.close()
    await mailpit.start()
    const startedAt = Date.now()
    const b = await open(t, { databaseUrl, smtpUrl: mailpit.smtpUrl })
    await waitForMail(b, to, /^Outbox test$/, { timeoutMs: AFTER_OUTAGE_MS })
    report(t, 'restart', `delivered by the restarted service ${Date.now() - startedAt} ms after it started`)
    t.equal(await settledCount(b, to), 1, 'delivered exactly once')
  })

  /** Two instances on one database, 20 messages enqueued on both in turn: each arrives once. */
  async function twoInstances (t: Test, databaseUrl: string, backend: string): Promise<void> {
    const a = await open(t, { databaseUrl, smtpUrl: mailpit.smtpUrl })
    const b = await open(t, { databaseUrl, smtpUrl: mailpit.smtpUrl })
    const recipients = Array.from({ length: 20 }, () => uniqueEmail())
    const startedAt = Date.now()
    for (const [i, to] of recipients.entries()) {
      await enqueue(i % 2 === 0 ? a : b, to)
      // Both look at once, as both would after commits of their own: the race the claim settles.
      a.mail.nudge()
      b.mail.nudge()
    }
    for (const to of recipients) await waitForMail(a, to, /^Outbox test$/, { timeoutMs: 10_000 })
    report(t, `two-instances ${backend}`, `20 messages delivered in ${Date.now() - startedAt} ms`)
    await sleep(2500)
    const counts = await Promise.all(recipients.map(async (to) => (await mailbox(a, to)).length))
    t.same(counts, recipients.map(() => 1), 'every message exactly once')
  }

  t.test('(c) two instances on one SQLite file, 20 messages: each arrives exactly once', { timeout: 60_000 }, async (t) => {
    await twoInstances(t, sqliteFile(t), 'SQLite')
  })

  const given = process.env.DATABASE_URL?.startsWith('mysql://') === true ? process.env.DATABASE_URL : undefined
  t.test('(c) two instances on one MySQL database, 20 messages: each arrives exactly once', { timeout: 60_000, skip: given === undefined ? 'no DATABASE_URL=mysql://...' : false }, async (t) => {
    const scratch = await scratchMysql(given ?? '')
    t.teardown(() => scratch.drop())
    await twoInstances(t, scratch.url, 'MySQL')
  })

  t.test('a hung SMTP server does not hold the shutdown; the message stays and is sent after the restart', { timeout: 60_000 }, async (t) => {
    const databaseUrl = sqliteFile(t)
    const shutdownGraceMs = 1000
    const a = await open(t, { databaseUrl, smtpUrl: mailpit.smtpUrl, shutdownGraceMs })
    mailpit.signal('SIGSTOP')
    const to = uniqueEmail()
    await enqueue(a, to)
    await sleep(300)
    const closing = Date.now()
    await a.close()
    const closeMs = Date.now() - closing
    report(t, 'hung-smtp-shutdown', `close() took ${closeMs} ms with shutdownGraceMs ${shutdownGraceMs}`)
    t.ok(closeMs < shutdownGraceMs, `closed within the grace (${closeMs} ms)`)
    mailpit.signal('SIGCONT')
    const b = await open(t, { databaseUrl, smtpUrl: mailpit.smtpUrl })
    await waitForMail(b, to, /^Outbox test$/, { timeoutMs: AFTER_OUTAGE_MS })
    t.equal(await settledCount(b, to), 1, 'delivered exactly once')
  })
}
