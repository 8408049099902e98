/**
 * Every message the account flows send (src/services/accounts.ts, src/services/users.ts):
 * a plain-text part and an HTML part of the same words. A message carrying a token shows it
 * as a link `<APP_URL>/<action>?token=<token>` and on a line of its own, `Token: <token>`, so
 * a user without a web page for the action can still paste it into the API.
 */

export interface MessageBody {
  subject: string
  text: string
  html: string
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
/** Everything interpolated into the HTML part goes through this. */
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)

/** The pages a token's link opens (the action names the API route that takes the token). */
export type TokenAction = 'verify-email' | 'password-reset'

const SIGNATURE = '-- \nBookstore'

function lifetime (minutes: number): string {
  if (minutes % 60 === 0) {
    const hours = minutes / 60
    return hours === 1 ? '1 hour' : `${hours} hours`
  }
  return minutes === 1 ? '1 minute' : `${minutes} minutes`
}

/** A message whose paragraphs surround a token shown as a link and as a `Token:` line. */
function withToken (subject: string, before: string[], after: string[], link: { publicUrl: string, action: TokenAction, token: string }): MessageBody {
  const url = `${link.publicUrl}/${link.action}?token=${encodeURIComponent(link.token)}`
  const text = [...before, url, '', `Token: ${link.token}`, '', ...after, '', SIGNATURE].join('\n')
  const paragraphs = (lines: string[]): string => lines.filter((l) => l !== '').map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body>`,
    paragraphs(before),
    `<p><a href="${escapeHtml(url)}">${escapeHtml(url)}</a></p>`,
    `<p>Token: <code>${escapeHtml(link.token)}</code></p>`,
    paragraphs(after),
    '<p>Bookstore</p>',
    '</body></html>'
  ].join('\n')
  return { subject, text, html }
}

/** A message without a token: a notice. */
function notice (subject: string, lines: string[]): MessageBody {
  const text = [...lines, '', SIGNATURE].join('\n')
  const html = [
    '<!doctype html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body>`,
    lines.filter((l) => l !== '').map((l) => `<p>${escapeHtml(l)}</p>`).join('\n'),
    '<p>Bookstore</p>',
    '</body></html>'
  ].join('\n')
  return { subject, text, html }
}

/** After sign-up, or when the user asks again: proves the account's current address. */
export function verifyEmailMessage (publicUrl: string, token: string, validMinutes: number): MessageBody {
  return withToken('Verify your email address for Bookstore', [
    'Welcome to Bookstore. To confirm that this address is yours, open this link:',
    ''
  ], [
    `Or send the token to POST /users/verify-email. It works once, for ${lifetime(validMinutes)}.`,
    'If you did not sign up, ignore this message.'
  ], { publicUrl, action: 'verify-email', token })
}

/** An email change: proves the new address; nothing changes until the token is used. */
export function verifyNewEmailMessage (publicUrl: string, token: string, validMinutes: number): MessageBody {
  return withToken('Verify your new email address for Bookstore', [
    'Someone asked to make this the email address of a Bookstore account. To confirm it, open this link:',
    ''
  ], [
    `Or send the token to POST /users/verify-email. It works once, for ${lifetime(validMinutes)}.`,
    'If you did not ask for this, ignore this message: nothing changes.'
  ], { publicUrl, action: 'verify-email', token })
}

export function passwordResetMessage (publicUrl: string, token: string, validMinutes: number): MessageBody {
  return withToken('Reset your Bookstore password', [
    'Someone asked to reset the password of the Bookstore account of this address. To choose a new password, open this link:',
    ''
  ], [
    `Or send the token with the new password to POST /users/password-reset/confirm. It works once, for ${lifetime(validMinutes)}; a newer request replaces it.`,
    'If you did not ask for this, ignore this message: your password stays as it is.'
  ], { publicUrl, action: 'password-reset', token })
}

/** After any password change (PUT /users/me/password or a reset). No token: nothing to act on but a warning. */
export function passwordChangedMessage (): MessageBody {
  return notice('Bookstore: Password changed', [
    'The password of your Bookstore account has just been changed, and its other sessions have ended.',
    'If you did not do this, reset your password at once with POST /users/password-reset.'
  ])
}

/** To the current address when a change to another is asked for. It names no new address. */
export function emailChangeNoticeMessage (): MessageBody {
  return notice('Bookstore: Email change requested', [
    'Someone signed in to your Bookstore account asked to move it to another email address.',
    'Nothing changes until the new address is confirmed from the message sent to it.',
    'If you did not ask for this, change your password at once: PUT /users/me/password, or POST /users/password-reset.'
  ])
}
