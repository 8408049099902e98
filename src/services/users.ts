import { createHash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { User } from '../schemas/user'
import { Permission } from '../domain/permission'
import { AppError, breachedPassword, cannotLowerOwnLevel, invalidCredentials, notFound, signInThrottled, wrongCurrentPassword } from '../domain/errors'
import { CacheUnavailableError } from '../cache/breaker'
import type { KeyValueCache } from '../cache/types'
import type { Page, UserStore } from '../stores/types'
import { isBreachedPassword } from '../../config/breached-passwords'
import type { PasswordHasher } from './passwords'
import type { SessionService } from './sessions'

interface Deps {
  users: UserStore
  hasher: PasswordHasher
  /** Holds the per-email failure counters; Redis when configured, so instances share them. */
  counters: KeyValueCache
  maxFailures: number
  windowMinutes: number
  /** Told of level changes (cached checks go) and password changes (other sessions end). */
  sessions: SessionService
  log: FastifyBaseLogger
}

export function normaliseEmail (email: string): string {
  return email.trim().toLowerCase()
}

export function createUserService ({ users, hasher, counters, maxFailures, windowMinutes, sessions, log }: Deps) {
  // The counter key holds a digest, not the address: the cache never stores emails.
  const failureKey = (email: string): string => `signin-failures:${createHash('sha256').update(email).digest('hex')}`
  const windowSeconds = Math.ceil(windowMinutes * 60)

  /** A throttle call that fails open: a cache outage must not lock every user out. It is logged. */
  async function throttleOrFailOpen<T> (what: string, call: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await call()
    } catch (err) {
      // An open circuit refuses at once, on every call: the breaker logged when it opened.
      if (err instanceof CacheUnavailableError) log.debug({ cache: counters.name, reason: err.message }, `sign-in throttle ${what} skipped; not throttling`)
      else log.warn({ err, cache: counters.name }, `sign-in throttle ${what} failed; not throttling`)
      return fallback
    }
  }

  return {
    /** Sheds (503) at once a request that would find the password queue full; see passwords.ts. */
    admitPasswordWork (): void {
      hasher.admit()
    },

    async signUp (rawEmail: string, password: string): Promise<User> {
      if (isBreachedPassword(password)) throw breachedPassword()
      const email = normaliseEmail(rawEmail)
      // No look-up first: the unique index decides, races included (EMAIL_TAKEN).
      const passwordHash = await hasher.hash(password)
      return users.create({ email, password_hash: passwordHash, permission: Permission.User })
    },

    /**
     * One answer for an unknown email and a wrong password: same status, message and work
     * (a dummy hash is checked). Failures are counted per email whether or not it exists.
     */
    async signIn (rawEmail: string, password: string): Promise<User> {
      const email = normaliseEmail(rawEmail)
      const key = failureKey(email)
      const seen = await throttleOrFailOpen('read', () => counters.peek(key), { count: 0, ttlMs: 0 })
      if (seen.count >= maxFailures) throw signInThrottled(seen.ttlMs / 1000)

      const record = await users.findByEmail(email)
      const ok = record === undefined
        ? await hasher.verifyDummy(password)
        : await hasher.verify(record.password_hash, password)
      if (record === undefined || !ok) {
        await throttleOrFailOpen('update', () => counters.incr(key, windowSeconds), undefined)
        throw invalidCredentials()
      }
      if (seen.count > 0) await throttleOrFailOpen('reset', () => counters.del(key), undefined)
      if (hasher.needsRehash(record.password_hash)) {
        await users.setPasswordHash(record.id, await hasher.hash(password, { mayShed: false }))
        log.info({ userId: record.id }, 'password rehashed with the current argon2 parameters')
      }
      const { password_hash: _hash, ...user } = record
      return user
    },

    async get (id: number): Promise<User> {
      const user = await users.get(id)
      if (user === undefined) throw notFound('user')
      return user
    },

    async list (page: Page): Promise<User[]> {
      return users.list(page)
    },

    /** The store refuses to lower the last Admin (LAST_ADMIN), atomically with the write. */
    async setPermission (actorId: number, id: number, permission: Permission): Promise<User> {
      if (actorId === id && permission < Permission.Admin) throw cannotLowerOwnLevel()
      const user = await users.setPermission(id, permission)
      if (user === undefined) throw notFound('user')
      await sessions.forgetUser(id)
      return user
    },

    /**
     * A wrong current password counts as a failed sign-in for the account's email, so a stolen
     * token cannot be used to guess the password past the throttle. Every other session ends.
     */
    async changePassword (userId: number, currentSid: string, currentPassword: string, newPassword: string): Promise<void> {
      const user = await users.get(userId)
      if (user === undefined) throw notFound('user')
      const key = failureKey(user.email)
      const seen = await throttleOrFailOpen('read', () => counters.peek(key), { count: 0, ttlMs: 0 })
      if (seen.count >= maxFailures) throw signInThrottled(seen.ttlMs / 1000)
      const record = await users.findByEmail(user.email)
      if (record === undefined || !await hasher.verify(record.password_hash, currentPassword)) {
        await throttleOrFailOpen('update', () => counters.incr(key, windowSeconds), undefined)
        throw wrongCurrentPassword()
      }
      if (seen.count > 0) await throttleOrFailOpen('reset', () => counters.del(key), undefined)
      if (isBreachedPassword(newPassword)) throw breachedPassword()
      await users.setPasswordHash(userId, await hasher.hash(newPassword, { mayShed: false }))
      const ended = await sessions.endAll(userId, currentSid)
      log.info({ userId, sessionsEnded: ended }, 'password changed')
    },

    /** The bootstrap Admin from configuration: created, or promoted if the account exists. */
    async ensureAdmin (rawEmail: string, password: string): Promise<User> {
      const email = normaliseEmail(rawEmail)
      const existing = await users.findByEmail(email)
      if (existing === undefined) {
        try {
          return await users.create({ email, password_hash: await hasher.hash(password, { mayShed: false }), permission: Permission.Admin })
        } catch (err) {
          // Another instance created it first: promote that one below.
          if (!(err instanceof AppError && err.code === 'EMAIL_TAKEN')) throw err
        }
      }
      const user = existing ?? await users.findByEmail(email)
      if (user === undefined) throw notFound('user')
      if (user.permission === Permission.Admin) return { id: user.id, email: user.email, permission: user.permission, created_at: user.created_at }
      const promoted = await users.setPermission(user.id, Permission.Admin)
      if (promoted === undefined) throw notFound('user')
      await sessions.forgetUser(user.id)
      return promoted
    }
  }
}

export type UserService = ReturnType<typeof createUserService>
