import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { generateSecret, verify } from 'otplib'
import type { RequestContext } from '../domain/context'
import { mfaCodeInvalid, mfaRequired, notFound, totpAlreadyEnabled, totpNotPending } from '../domain/errors'
import type { User } from '../schemas/user'
import type { SqlStores } from '../stores/sql'
import type { TotpStore } from '../stores/types'
import { auditEntry } from './audit'
import type { PasswordCheck } from './password-check'
import type { SignInThrottle } from './throttle'

/** The issuer an authenticator app shows beside the account (the contract's otpauth URL). */
const ISSUER = 'Bookstore'
/** RFC 6238 as authenticator apps use it: SHA-1, 6 digits, 30-second steps (otplib's defaults). */
const STEP_SECONDS = 30
const TOTP_CODE = /^\d{6}$/
export const RECOVERY_CODE_COUNT = 10
/** 20 random bytes: 160 bits, the least the contract allows, and what RFC 4226 recommends. */
const SECRET_BYTES = 20

/** Recovery codes are typed by hand: case, spaces and hyphens do not matter. */
const normaliseRecoveryCode = (code: string): string => code.toLowerCase().replace(/[\s-]/g, '')
/** Only this digest of a recovery code is stored. */
export const recoveryCodeHash = (code: string): string => createHash('sha256').update(normaliseRecoveryCode(code), 'utf8').digest('hex')

const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'
/** 16 characters of a 31-letter alphabet without look-alikes (about 79 bits), shown as xxxx-xxxx-xxxx-xxxx. */
function newRecoveryCode (): string {
  const chars: string[] = []
  while (chars.length < 16) {
    for (const byte of randomBytes(32)) {
      // 248 = 8 × 31: bytes above it are dropped, so every letter is equally likely.
      if (byte < 248 && chars.length < 16) chars.push(RECOVERY_ALPHABET[byte % RECOVERY_ALPHABET.length] ?? '')
    }
  }
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join('')).join('-')
}

/** The account name in the otpauth URL: the address as it is, escaping only what would end the path. */
const labelOf = (email: string): string => email.replace(/[^A-Za-z0-9.!$&'*+=^_~@-]/g, (c) => encodeURIComponent(c))

/**
 * The time step whose code `code` is, if it is the code of the step of `nowMs` or of the one
 * before or after (a phone's clock may drift); undefined otherwise.
 */
export async function stepOfCode (secret: string, code: string, nowMs: number): Promise<number | undefined> {
  if (!TOTP_CODE.test(code)) return undefined
  const epoch = Math.floor(nowMs / 1000)
  const result = await verify({ secret, token: code, epoch, epochTolerance: STEP_SECONDS })
  return result.valid ? Math.floor(epoch / STEP_SECONDS) + result.delta : undefined
}

/**
 * Spends `code` for the user, if TOTP is on: a TOTP code of a step after the last one
 * accepted, or an unused recovery code. Each is one conditional UPDATE, so a code is accepted
 * once, on any instance. False for a wrong, reused or used-up code.
 */
async function spendCode (totp: TotpStore, userId: number, code: string, nowMs: number): Promise<boolean> {
  const trimmed = code.trim()
  if (TOTP_CODE.test(trimmed)) {
    const record = await totp.get(userId)
    if (record === undefined || !record.enabled) return false
    const step = await stepOfCode(record.secret, trimmed, nowMs)
    return step !== undefined && step > record.last_step && await totp.acceptStep(userId, step)
  }
  return totp.spendRecoveryCode(userId, recoveryCodeHash(trimmed), new Date(nowMs).toISOString())
}

interface Deps {
  stores: Pick<SqlStores, 'atomic' | 'users' | 'totp'>
  /** The current-password check (src/services/password-check.ts): disabling asks for the password too. */
  checkPassword: PasswordCheck
  /** The per-email sign-in throttle: a wrong code counts as a failed sign-in. */
  throttle: SignInThrottle
  log: FastifyBaseLogger
  /** The clock, in milliseconds; tests set it to reach the edges of the window. */
  now?: () => number
}

/**
 * TOTP as a second factor: the pending secret, its confirmation (TOTP on, recovery codes
 * handed out once), disabling, and the code check every other place uses (sign-in, reset
 * confirm). Where a code stands beside a credential, a wrong one counts as a failed sign-in.
 */
export function createTotpService ({ stores, checkPassword, throttle, log, now = Date.now }: Deps) {
  return {
    /** POST /users/me/totp: a new pending secret (replacing a pending one) and the URL an authenticator app reads. */
    async begin (userId: number): Promise<{ secret: string, otpauth_url: string }> {
      const user = await stores.users.get(userId)
      if (user === undefined) throw notFound('user')
      if (user.totp_enabled) throw totpAlreadyEnabled()
      const secret = generateSecret({ length: SECRET_BYTES })
      if (!await stores.totp.setPending(userId, secret, new Date(now()).toISOString())) throw totpAlreadyEnabled()
      log.info({ userId }, 'TOTP secret issued, pending')
      return { secret, otpauth_url: `otpauth://totp/${ISSUER}:${labelOf(user.email)}?secret=${secret}&issuer=${ISSUER}` }
    },

    /**
     * POST /users/me/totp/confirm: a right code of the pending secret turns TOTP on (its step
     * counts as used) and answers the recovery codes, the only time they are shown. A recovery
     * code is no code here: there are none yet.
     */
    async confirm (userId: number, code: string, ctx: RequestContext): Promise<{ recovery_codes: string[] }> {
      const pending = await stores.totp.get(userId)
      if (pending === undefined || pending.enabled) throw totpNotPending()
      const at = now()
      const step = await stepOfCode(pending.secret, code.trim(), at)
      if (step === undefined || step <= pending.last_step) throw mfaCodeInvalid({ status: 400 })
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
      const enabled = await stores.atomic(async (s) => {
        const iso = new Date(at).toISOString()
        if (!await s.totp.enable(userId, pending.secret, step, codes.map(recoveryCodeHash), iso)) return false
        await s.audit.append(auditEntry('totp.enabled', ctx, { userId }), iso)
        return true
      })
      if (!enabled) {
        // A concurrent request came first: it turned TOTP on or off (nothing is pending now),
        // or replaced the secret this code belongs to.
        const after = await stores.totp.get(userId)
        throw after === undefined || after.enabled ? totpNotPending() : mfaCodeInvalid({ status: 400 })
      }
      log.info({ userId }, 'TOTP enabled')
      return { recovery_codes: codes }
    },

    /**
     * DELETE /users/me/totp: the password and a code (or a recovery code), checked as one
     * attempt of the per-email throttle, so a right password cannot clear the count that wrong
     * codes add. With TOTP only pending (or off), the code is not asked for and the pending
     * secret goes: the answer is the same 204.
     */
    async disable (userId: number, password: string, code: string, ctx: RequestContext): Promise<void> {
      const user = await checkPassword(userId, password, async (checked: User) =>
        !checked.totp_enabled || await spendCode(stores.totp, userId, code, now()))
      const removed = await stores.atomic(async (s) => {
        const existed = await s.totp.disable(userId)
        if (existed && user.totp_enabled) await s.audit.append(auditEntry('totp.disabled', ctx, { userId }), new Date(now()).toISOString())
        return existed
      })
      log.info({ userId, removed, wasEnabled: user.totp_enabled }, 'TOTP disabled')
    },

    /**
     * The second step of a sign-in, after a right password and inside its throttle attempt
     * (src/services/auth.ts counts a false as a failure): spends the code if it is right.
     */
    async spend (userId: number, code: string): Promise<boolean> {
      return spendCode(stores.totp, userId, code, now())
    },

    /**
     * The code a reset confirm needs from an account with TOTP on (src/services/accounts.ts),
     * checked with `totp` (the stores of its transaction, so a later failure gives the code
     * back): none is 401 MFA_REQUIRED (not counted), a wrong one 401 MFA_CODE_INVALID, counted
     * as a failed sign-in for the account's email.
     */
    async require (user: Pick<User, 'id' | 'email'>, code: string | undefined, totp: TotpStore = stores.totp): Promise<void> {
      if (code === undefined) throw mfaRequired()
      const accepted = await throttle.attempt(user.email, async () => await spendCode(totp, user.id, code, now()) ? true : undefined)
      if (accepted === undefined) throw mfaCodeInvalid()
    }
  }
}

export type TotpService = ReturnType<typeof createTotpService>
