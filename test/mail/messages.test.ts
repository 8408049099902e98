import t from 'tap'
import { emailChangeNoticeMessage, escapeHtml, passwordChangedMessage, passwordResetMessage, verifyEmailMessage, verifyNewEmailMessage } from '../../src/mail/messages'

const TOKEN = 'q3Jx0n7hZbYvT1c5WkR9uA2sLm8dFe4gHi6jKo0pQrs'

t.test('a message with a token shows it as a link and on a Token: line, in both parts', async (t) => {
  for (const [message, action, subject] of [
    [verifyEmailMessage('https://books.example.com', TOKEN, 48 * 60), 'verify-email', /Verify/],
    [verifyNewEmailMessage('https://books.example.com', TOKEN, 90), 'verify-email', /Verify/],
    [passwordResetMessage('https://books.example.com', TOKEN, 30), 'password-reset', /Reset/]
  ] as const) {
    t.match(message.subject, subject)
    t.match(message.text, `https://books.example.com/${action}?token=${TOKEN}\n`)
    t.match(message.text, new RegExp(`^Token: ${TOKEN}$`, 'm'))
    t.match(message.html, `href="https://books.example.com/${action}?token=${TOKEN}"`)
    t.match(message.html, `Token: <code>${TOKEN}</code>`)
  }
  t.match(verifyEmailMessage('http://x', TOKEN, 48 * 60).text, 'for 48 hours')
  t.match(verifyNewEmailMessage('http://x', TOKEN, 90).text, 'for 90 minutes')
})

t.test('notices carry no token', async (t) => {
  for (const [message, subject] of [[passwordChangedMessage(), /Password changed/], [emailChangeNoticeMessage(), /Email change/]] as const) {
    t.match(message.subject, subject)
    t.notMatch(message.text, /Token:|token=/)
    t.notMatch(message.html, /Token:|token=/)
    t.match(message.html, /^<!doctype html>/)
  }
})

t.test('what is interpolated into HTML is escaped', async (t) => {
  t.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  const message = verifyEmailMessage('https://books.example.com/"><script>', 'a<b', 60)
  t.notMatch(message.html, /<script>/)
  t.match(message.html, '&quot;&gt;&lt;script&gt;')
  t.match(message.html, 'Token: <code>a&lt;b</code>')
})
