import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { build, skipSuite, uniqueEmail } from '../support/app'
import { mailpitAvailable, throwawayMailpit, waitForMail } from '../support/mail'

/**
 * The outbox's point, end to end: a sign-up answered while the mail server is down succeeds,
 * and its verification message is delivered once the server is back (the contract's
 * "Delivery"). Sign-up enqueues that message in src/services (the accounts work); this suite
 * proves the whole path through a real SMTP server, a private mailpit killed and restarted.
 */

/** After the server is back, a message tried during the outage waits at most its backoff (≤ 60 s). */
const AFTER_OUTAGE_MS = 65_000

if (!mailpitAvailable()) {
  skipSuite(t, 'sign-up mail fault suite', 'no mailpit on PATH (npm run services builds it into /usr/local/bin from the Go module proxy)')
} else {
  t.test('a sign-up answered while SMTP is down: 201, and its "Verify" message arrives after SMTP is back', { timeout: 120_000 }, async (t) => {
    const mailpit = await throwawayMailpit()
    t.teardown(() => mailpit.dispose())
    const app = await build(t, { smtpUrl: mailpit.smtpUrl })
    await mailpit.kill()
    const email = uniqueEmail()
    const res = await app.inject({ method: 'POST', url: '/users', payload: { email, password: 'a fine long passphrase' } })
    t.equal(res.statusCode, 201, 'sign-up does not wait for the mail server')
    await sleep(2000)
    await mailpit.start()
    const mail = await waitForMail(app, email, /Verify/, { timeoutMs: AFTER_OUTAGE_MS })
    t.ok(mail.token !== undefined && mail.token.length >= 43, 'carries its token (256 bits, URL-safe)')
  })
}
