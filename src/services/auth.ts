import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { RequestContext } from '../domain/context'
import { invalidCredentials, mfaCodeInvalid, mfaRequired } from '../domain/errors'
import type { AuditDetails } from '../schemas/audit'
import type { AccessClaims, TokenResponse } from '../schemas/token'
import type { User } from '../schemas/user'
import type { AuditStore, UserStore } from '../stores/types'
import { auditEntry } from './audit'
import type { PasswordHasher } from './passwords'
import type { SessionService } from './sessions'
import type { SignInThrottle } from './throttle'

/** Signs an access token for these claims, adding `iat` and `exp`. */
type SignAccessToken = (claims: AccessClaims) => string

interface Deps {
  users: Pick<UserStore, 'findByEmail' | 'setPasswordHash' | 'get'>
  hasher: PasswordHasher
  throttle: SignInThrottle
  sessions: Pick<SessionService, 'start' | 'refresh'>
  /** Where a failed sign-in is recorded (nothing else changes with it). */
  audit: Pick<AuditStore, 'append'>
  /** The JWT signer, injected (plugins/app/services.ts), so this service knows no plugin. */
  sign: SignAccessToken
  /** What the signer gives an access token to live; answered as `expires_in`. */
  accessTokenSeconds: number
  log: FastifyBaseLogger
  /**
   * The second step for an account with TOTP on (src/services/totp.ts): spends the code if
   * it is right, within the sign-in's throttle attempt.
   */
  secondFactor: { spend: (userId: number, code: string) => Promise<boolean> }
}

/** A token pair, and the session it belongs to (for the caller's log; never answered). */
export interface SignedIn {
  tokens: TokenResponse
  sessionId: string
}

/**
 * Who may have a session, and the token pair that proves it: sign-in (the credential check,
 * under the per-email throttle) and refresh. A further step of sign-in (a second factor, a
 * passkey) belongs between the credential check and the session's start.
 */
export function createAuthService ({ users, hasher, throttle, sessions, audit, sign, accessTokenSeconds, log, secondFactor }: Deps) {
  /** The one answer of sign-in and refresh. */
  function tokenPair (user: User, sessionId: string, refreshToken: string): SignedIn {
    const token = sign({ user_id: user.id, user_name: user.email, permission: user.permission, jti: randomUUID(), sid: sessionId })
    return { tokens: { token, refresh_token: refreshToken, expires_in: accessTokenSeconds, user: { id: user.id, email: user.email } }, sessionId }
  }

  /**
   * One answer for an unknown email and a wrong password: same status, message and work
   * (a dummy hash is checked, and either failure is recorded, user_id null for no account).
   * Failures are counted per email whether or not it exists. An attempt the throttle refuses
   * (429) checks nothing and records nothing: the failures that led to it are in the log.
   *
   * With TOTP on, the code is checked after a right password in the same throttle attempt:
   * none is MFA_REQUIRED, thrown out of the attempt so it is neither counted nor clears the
   * count; a wrong, reused or used-up one is a counted failure. Only both together clear it,
   * so a known password cannot be used to reset the count while codes are guessed.
   */
  async function checkPassword (email: string, password: string, code: string | undefined, ctx: RequestContext): Promise<User> {
    let accountId: number | null = null
    const outcome = { wrongCode: false }
    const record = await throttle.attempt(email, async () => {
      const found = await users.findByEmail(email)
      accountId = found?.id ?? null
      const ok = found === undefined
        ? await hasher.verifyDummy(password)
        : await hasher.verify(found.password_hash, password)
      if (!ok || found === undefined) return undefined
      if (found.totp_enabled) {
        if (code === undefined) throw mfaRequired()
        if (!await secondFactor.spend(found.id, code)) {
          outcome.wrongCode = true
          return undefined
        }
      }
      return found
    })
    if (record === undefined) {
      // No actor: the request proved no identity. The address is never recorded.
      const details: AuditDetails = outcome.wrongCode ? { method: 'password', factor: 'totp' } : { method: 'password' }
      await audit.append(auditEntry('user.sign_in_failed', { ...ctx, actorId: null }, { userId: accountId, details }), new Date().toISOString())
      throw outcome.wrongCode ? mfaCodeInvalid() : invalidCredentials()
    }
    if (hasher.needsRehash(record.password_hash)) {
      await users.setPasswordHash(record.id, await hasher.hash(password, { mayShed: false }))
      log.info({ userId: record.id }, 'password rehashed with the current argon2 parameters')
    }
    const { password_hash: _hash, ...user } = record
    return user
  }

  return {
    /**
     * Throws OverloadedError (503) at once when argon2's queue is full: asked before the body
     * of any route that hashes or verifies a password is read (plugins/app/auth.ts).
     */
    admitPasswordWork (): void {
      hasher.admit()
    },

    /**
     * `email` as normaliseEmail (src/schemas/user.ts) leaves it; `code` is asked for only when
     * the account has TOTP on. Starts a session (user.signed_in).
     */
    async signIn (email: string, password: string, code: string | undefined, ctx: RequestContext): Promise<SignedIn> {
      const user = await checkPassword(email, password, code, ctx)
      const { session, refreshToken } = await sessions.start(user.id, ctx)
      return tokenPair(user, session.id, refreshToken)
    },

    /**
     * A sign-in whose credential was checked elsewhere (a passkey, src/services/passkeys.ts):
     * the same session start and answer as a password's, user.signed_in with `method`. A user
     * deleted meanwhile is the same INVALID_CREDENTIALS as an unknown credential.
     */
    async signInVerified (userId: number, ctx: RequestContext, method: 'passkey'): Promise<SignedIn> {
      const user = await users.get(userId)
      if (user === undefined) throw invalidCredentials()
      const { session, refreshToken } = await sessions.start(user.id, ctx, method)
      return tokenPair(user, session.id, refreshToken)
    },

    /** Spends `refreshToken` for a new pair on the same session, at the user's level as stored now. */
    async refresh (refreshToken: string, ctx: RequestContext): Promise<SignedIn> {
      const { session, refreshToken: next, user } = await sessions.refresh(refreshToken, ctx)
      return tokenPair(user, session.id, next)
    }
  }
}

export type AuthService = ReturnType<typeof createAuthService>
