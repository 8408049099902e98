import t from 'tap'
import { build } from '../support/app'
import { mailbox, waitForMail } from '../support/mail'

t.test('on the embedded default a message in the outbox is written to MAIL_DIR as an .eml file, and leaves the outbox', async (t) => {
  const app = await build(t)
  const now = new Date().toISOString()
  await app.stores.outbox.enqueue({ user_id: null, to: 'reader@example.com', subject: 'Hello', text: 'Plain part\nToken: abc_DEF-123', html: '<p>HTML part</p>' }, now)
  app.mail.nudge()
  const mail = await waitForMail(app, 'reader@example.com', /^Hello$/)
  t.match(mail.from, /^"?Bookstore"? <no-reply@localhost>$/)
  t.equal(mail.text.trim(), 'Plain part\nToken: abc_DEF-123')
  t.equal(mail.html, '<p>HTML part</p>')
  t.equal(mail.token, 'abc_DEF-123')
  t.match(mail.file, /^\d{4}-\d\d-\d\dT[\d-]+Z-[0-9a-f]{8}\.eml$/)
  t.same(await app.stores.outbox.claim(new Date(Date.now() + 60_000).toISOString(), new Date(Date.now() + 120_000).toISOString(), 10), [], 'nothing left to send')
  t.equal((await mailbox(app)).length, 1, 'sent once')
})
