import t, { type Test } from 'tap'
import { smtpTransport } from '../../src/mail/transport'
import { build, skipSuite, uniqueEmail } from '../support/app'
import { mailbox, mailpitAvailable, throwawayMailpit, waitForMail } from '../support/mail'

/**
 * SMTP_URL through a real SMTP server (a private mailpit): the message as a reader gets it,
 * STARTTLS when the server offers it (here it refuses mail without), TLS on connect for
 * smtps://, and a refusal the worker can name without an address.
 */

const body = (to: string) => ({ user_id: null, to, subject: 'Over SMTP', text: 'Plain part\nhttp://localhost/verify-email?token=abc_DEF-123\nToken: abc_DEF-123', html: '<p>HTML part</p>' })

async function sendsThrough (t: Test, tls?: 'starttls' | 'tls'): Promise<void> {
  const mailpit = await throwawayMailpit({ tls })
  t.teardown(() => mailpit.dispose())
  const app = await build(t, { smtpUrl: mailpit.smtpUrl })
  t.equal(app.mail.transport, 'smtp')
  const to = uniqueEmail()
  await app.stores.outbox.enqueue(body(to), new Date().toISOString())
  app.mail.nudge()
  const mail = await waitForMail(app, to, /^Over SMTP$/)
  t.match(mail.from, /^"?Bookstore"? <no-reply@localhost>$/)
  t.equal(mail.to, to)
  t.equal(mail.text.trim(), 'Plain part\nhttp://localhost/verify-email?token=abc_DEF-123\nToken: abc_DEF-123')
  t.equal(mail.html, '<p>HTML part</p>')
  t.equal(mail.token, 'abc_DEF-123')
  t.equal(mail.link, 'http://localhost/verify-email?token=abc_DEF-123')
  t.match(mail.file, /^mailpit:/)
  t.same((await mailbox(app)).map((m) => m.to), [to], 'mailbox(app): what this app sent, by its sender address')
}

if (!mailpitAvailable()) {
  skipSuite(t, 'SMTP transport suite', 'no mailpit on PATH (npm run services builds it into /usr/local/bin from the Go module proxy)')
} else {
  t.test('smtp://: the message arrives whole, with its text and HTML parts, token and link', async (t) => sendsThrough(t))
  t.test('smtp:// to a server that offers STARTTLS and requires it: sent over STARTTLS', async (t) => sendsThrough(t, 'starttls'))
  t.test('smtps://: TLS on connect', async (t) => sendsThrough(t, 'tls'))

  t.test('a server that is not there: the send fails with a code and no address in it', async (t) => {
    const mailpit = await throwawayMailpit()
    await mailpit.dispose()
    const transport = smtpTransport(mailpit.smtpUrl, 'Bookstore <no-reply@localhost>', { timeoutMs: 2000 })
    t.teardown(() => transport.close())
    const err = await transport.send(body('nobody@example.com')).then(() => undefined, (e: unknown) => e as { code?: string })
    t.equal(err?.code, 'ESOCKET', 'connection refused')
  })

  t.test('an aborted send ends at once, even with the server frozen', async (t) => {
    const mailpit = await throwawayMailpit()
    t.teardown(() => mailpit.dispose())
    mailpit.signal('SIGSTOP')
    t.teardown(() => mailpit.signal('SIGCONT'))
    const transport = smtpTransport(mailpit.smtpUrl, 'Bookstore <no-reply@localhost>', { timeoutMs: 5000 })
    t.teardown(() => transport.close())
    const started = Date.now()
    const err = await transport.send(body('frozen@example.com'), AbortSignal.timeout(300)).then(() => undefined, (e: unknown) => e as Error)
    t.ok(err !== undefined, 'rejected')
    t.ok(Date.now() - started < 1500, `within ${Date.now() - started} ms, not the 5 s greeting timeout`)
  })

  const shared = process.env.MAILPIT_SMTP_URL
  t.test('the shared mailpit of npm run services (MAILPIT_SMTP_URL, MAILPIT_API_URL)', { skip: shared === undefined || process.env.MAILPIT_API_URL === undefined ? 'MAILPIT_SMTP_URL/MAILPIT_API_URL unset (eval "$(npm run -s services)")' : false }, async (t) => {
    const app = await build(t, { smtpUrl: shared, mailFrom: `Bookstore <no-reply+${uniqueEmail().split('@')[0] ?? ''}@localhost>` })
    const to = uniqueEmail()
    await app.stores.outbox.enqueue(body(to), new Date().toISOString())
    app.mail.nudge()
    t.equal((await waitForMail(app, to, /^Over SMTP$/)).token, 'abc_DEF-123')
    t.same((await mailbox(app)).map((m) => m.to), [to], 'among everyone\'s mail, only this app\'s')
  })
}
