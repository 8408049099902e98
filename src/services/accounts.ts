import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { isBreachedPassword } from '../../config/breached-passwords'
import type { RequestContext } from '../domain/context'
import { breachedPassword, emailAlreadyVerified, emailTaken, notFound, resetTokenInvalid, tooManyEmails, verificationTokenInvalid } from '../domain/errors'
import { emailChangeNoticeMessage, passwordChangedMessage, passwordResetMessage, verifyEmailMessage, verifyNewEmailMessage, type MessageBody } from '../mail/messages'
import type { User } from '../schemas/user'
import type { SqlStores, SqlStoreSet } from '../stores/sql'
import type { AccountTokenPurpose, TotpStore } from '../stores/types'
import { auditEntry } from './audit'
import type { PasswordHasher } from './passwords'
import type { SessionService } from './sessions'
import type { SignInThrottle } from './throttle'
import type { PasswordCheck } from './password-check'

interface Deps {
  stores: Pick<SqlStores, 'atomic' | 'users'>
  hasher: PasswordHasher
  /** The per-email sign-in throttle: a reset clears it. */
  throttle: SignInThrottle
  /** Sessions end on a reset; cached checks go when the address or its verification changes. */
  sessions: SessionService
  /** The password check of PUT /users/me/password (src/services/password-check.ts), throttled per email. */
  checkPassword: PasswordCheck
  /** Wakes the outbox worker after a commit that enqueued mail. */
  nudge: () => void
  /** APP_URL, no trailing slash: where the links in mail point. */
  publicUrl: string
  verifyEmailHours: number
  resetTokenMinutes: number
  log: FastifyBaseLogger
  /**
   * The TOTP code a reset confirm needs when the account has TOTP on (src/services/totp.ts):
   * throws MFA_REQUIRED or MFA_CODE_INVALID (counted by the per-email throttle).
   */
  secondFactor: { require: (user: Pick<User, 'id' | 'email'>, code: string | undefined, totp: TotpStore) => Promise<void> }
}

/** POST /users/me/verify-email: messages a user may ask for within the hour (the sign-up's not counted). */
export const VERIFY_RESENDS_PER_HOUR = 5
/** Reset messages sent to one address within RESET_WINDOW_MINUTES; further requests send nothing. */
export const RESETS_PER_WINDOW = 3
export const RESET_WINDOW_MINUTES = 15

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS

/** Only this digest of a mail token is stored (AccountTokenStore); the token is only in the message. */
export const mailTokenHash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')
/** 256 random bits, URL-safe. */
const newMailToken = (): string => randomBytes(32).toString('base64url')

const later = (at: string, ms: number): string => new Date(Date.parse(at) + ms).toISOString()

/**
 * Verification, password reset and email change: every change, the mail it causes and its
 * audit event commit in one transaction (stores.atomic); the worker is nudged after the commit.
 */
export function createAccountService ({ stores, hasher, throttle, sessions, checkPassword, nudge, publicUrl, verifyEmailHours, resetTokenMinutes, log, secondFactor }: Deps) {
  const now = (): string => new Date().toISOString()
  const verifyMinutes = verifyEmailHours * 60
  /** Password-reset work answered before it is done: close() waits for it (drain). */
  const pending = new Set<Promise<void>>()

  /** Issues a token (superseding the user's earlier ones of `purpose`) and enqueues the message carrying it, in `s`'s transaction. */
  async function sendToken (s: SqlStoreSet, user: Pick<User, 'id'>, purpose: AccountTokenPurpose, to: string, at: string,
    message: (token: string) => MessageBody, validMs: number): Promise<void> {
    const token = newMailToken()
    await s.tokens.issue({ token_hash: mailTokenHash(token), user_id: user.id, purpose, email: to, now: at, expires_at: later(at, validMs) })
    await s.outbox.enqueue({ user_id: user.id, to, ...message(token) }, at)
  }

  async function passwordChangedNotice (s: SqlStoreSet, user: Pick<User, 'id' | 'email'>, at: string): Promise<void> {
    await s.outbox.enqueue({ user_id: user.id, to: user.email, ...passwordChangedMessage() }, at)
  }

  async function requestReset (email: string, ctx: RequestContext): Promise<void> {
    const found = await stores.users.findByEmail(email)
    if (found === undefined) return
    const sent = await stores.atomic(async (s) => {
      const at = now()
      // Locked before anything else is read: two requests (on any instances) count in turn.
      const user = await s.users.lock(found.id)
      if (user === undefined || user.email !== email) return false
      const recent = await s.tokens.countSince(user.id, 'reset_password', later(at, -RESET_WINDOW_MINUTES * MINUTE_MS))
      if (recent >= RESETS_PER_WINDOW) return false
      await sendToken(s, user, 'reset_password', user.email, at, (token) => passwordResetMessage(publicUrl, token, resetTokenMinutes), resetTokenMinutes * MINUTE_MS)
      await s.audit.append(auditEntry('user.password_reset_requested', ctx, { userId: user.id }), at)
      return true
    })
    if (sent) nudge()
    log.info({ userId: found.id, sent }, 'password reset asked for')
  }

  return {
    /** The sign-up's verification message, inside the sign-up's transaction (src/services/users.ts). */
    async enqueueVerification (s: SqlStoreSet, user: Pick<User, 'id' | 'email'>, at: string): Promise<void> {
      await sendToken(s, user, 'verify_email', user.email, at, (token) => verifyEmailMessage(publicUrl, token, verifyMinutes), verifyMinutes * MINUTE_MS)
    },

    /** The "Password changed" notice, inside the transaction of the change (src/services/users.ts). */
    passwordChangedNotice,

    /**
     * A verification token (a sign-up's, a resend's or an email change's) makes the address it
     * was sent to the user's verified address. A sign-up's token for an address the user no
     * longer has is invalid; an email change's for an address taken meanwhile is EMAIL_TAKEN
     * (and stays usable: the transaction that spent it is rolled back).
     */
    async verifyEmail (token: string, ctx: RequestContext): Promise<void> {
      const userId = await stores.atomic(async (s) => {
        const at = now()
        const used = await s.tokens.consume(mailTokenHash(token), ['verify_email', 'change_email'], at)
        if (used === undefined || used.email === null) throw verificationTokenInvalid()
        const user = await s.users.get(used.user_id)
        if (user === undefined) throw verificationTokenInvalid()
        if (used.purpose === 'verify_email') {
          if (user.email !== used.email) throw verificationTokenInvalid()
          if (!user.email_verified) {
            await s.users.markVerified(user.id)
            await s.audit.append(auditEntry('user.email_verified', ctx, { userId: user.id }), at)
          }
          return user.id
        }
        await s.users.setVerifiedEmail(user.id, used.email)
        // Whatever was sent to the old address no longer speaks for the account.
        await s.tokens.spendAll(user.id, 'verify_email', at)
        await s.tokens.spendAll(user.id, 'reset_password', at)
        await s.audit.append(auditEntry('user.email_changed', ctx, { userId: user.id }), at)
        return user.id
      })
      // A cached session check carries the verified flag: it must not outlive the change.
      await sessions.forgetUser(userId)
      log.info({ userId }, 'email address verified')
    },

    /**
     * A new verification message, superseding earlier tokens. At most VERIFY_RESENDS_PER_HOUR
     * within the hour, counted from the token rows in SQL under the user's row lock, so the
     * limit holds across instances; the sign-up's token (issued at the account's creation
     * instant) is outside the count.
     */
    async resendVerification (userId: number): Promise<void> {
      await stores.atomic(async (s) => {
        const at = now()
        const user = await s.users.lock(userId)
        if (user === undefined) throw notFound('user')
        if (user.email_verified) throw emailAlreadyVerified()
        const hourAgo = later(at, -HOUR_MS)
        const since = Date.parse(user.created_at) >= Date.parse(hourAgo) ? later(user.created_at, 1) : hourAgo
        const recent = await s.tokens.countSince(user.id, 'verify_email', since)
        // Retry-After: the whole window, an upper bound (the store answers a count, not the oldest row).
        if (recent >= VERIFY_RESENDS_PER_HOUR) throw tooManyEmails(HOUR_MS / 1000)
        await sendToken(s, user, 'verify_email', user.email, at, (token) => verifyEmailMessage(publicUrl, token, verifyMinutes), verifyMinutes * MINUTE_MS)
      })
      nudge()
      log.info({ userId }, 'verification message asked for')
    },

    /**
     * POST /users/password-reset. Answers at once, whether or not the address has an account:
     * the look-up, the limit, the token, the message and the audit event happen after, off the
     * response path, so neither the answer nor its timing says whether the account exists.
     */
    requestPasswordReset (email: string, ctx: RequestContext): void {
      const work = (async () => {
        // Let the answer leave first: on SQLite the look-up blocks the event loop.
        await new Promise<void>((resolve) => { setImmediate(resolve) })
        try {
          await requestReset(email, ctx)
        } catch (err) {
          log.warn({ err: { code: (err as { code?: unknown }).code, name: (err as Error).name } }, 'password reset request not completed')
        }
      })()
      pending.add(work)
      void work.finally(() => { pending.delete(work) })
    },

    /** Resolves once every password-reset request answered so far has been carried out. */
    async drain (): Promise<void> {
      while (pending.size > 0) await Promise.allSettled([...pending])
    },

    /**
     * POST /users/password-reset/confirm. The password is checked and hashed before the token
     * is spent, so a refused password leaves the token usable.
     */
    async confirmPasswordReset (token: string, newPassword: string, code: string | undefined, ctx: RequestContext): Promise<void> {
      if (isBreachedPassword(newPassword)) throw breachedPassword()
      const passwordHash = await hasher.hash(newPassword, { mayShed: false })
      const user = await stores.atomic(async (s) => {
        const at = now()
        const used = await s.tokens.consume(mailTokenHash(token), ['reset_password'], at)
        if (used === undefined) throw resetTokenInvalid()
        const found = await s.users.get(used.user_id)
        // A token sent to an address the account no longer has speaks for no one.
        if (found === undefined || (used.email !== null && used.email !== found.email)) throw resetTokenInvalid()
        // With TOTP on, a code too. A missing or wrong one throws, rolling back the spending of
        // the token (it stays usable); a right one is spent with the reset, in this transaction.
        if (found.totp_enabled) await secondFactor.require(found, code, s.totp)
        await s.users.setPasswordHash(found.id, passwordHash)
        await s.tokens.spendAll(found.id, 'reset_password', at)
        // The token reached this address: it is proven.
        await s.users.markVerified(found.id)
        await passwordChangedNotice(s, found, at)
        await s.audit.append(auditEntry('user.password_reset', ctx, { userId: found.id }), at)
        return found
      })
      nudge()
      // Every session ends, this forgets their cached checks too.
      const ended = await sessions.endAll(user.id)
      await throttle.clear(user.email)
      log.info({ userId: user.id, sessionsEnded: ended }, 'password reset')
    },

    /**
     * POST /users/me/email: the password is checked as for a password change (throttled per
     * email); then a token goes to the new address and a notice to the current one, in one
     * transaction. Nothing changes until the token is used (verifyEmail).
     */
    async requestEmailChange (userId: number, password: string, newEmail: string): Promise<void> {
      const user = await checkPassword(userId, password)
      // Asked only of someone who knows the password: no one else learns which addresses are taken.
      if (newEmail === user.email || await stores.users.findByEmail(newEmail) !== undefined) throw emailTaken()
      await stores.atomic(async (s) => {
        const at = now()
        await sendToken(s, user, 'change_email', newEmail, at, (token) => verifyNewEmailMessage(publicUrl, token, verifyMinutes), verifyMinutes * MINUTE_MS)
        await s.outbox.enqueue({ user_id: user.id, to: user.email, ...emailChangeNoticeMessage() }, at)
      })
      nudge()
      log.info({ userId }, 'email change asked for')
    }
  }
}

export type AccountService = ReturnType<typeof createAccountService>
