import type { FastifyBaseLogger } from 'fastify'
import type { User } from '../schemas/user'
import { Permission } from '../domain/permission'
import { AppError, breachedPassword, cannotLowerOwnLevel, notFound, wrongCurrentPassword } from '../domain/errors'
import type { Page, UserStore } from '../stores/types'
import { isBreachedPassword } from '../../config/breached-passwords'
import type { PasswordHasher } from './passwords'
import type { SessionService } from './sessions'
import type { SignInThrottle } from './throttle'

interface Deps {
  users: UserStore
  hasher: PasswordHasher
  /** The per-email failure counter, shared with sign-in (src/services/auth.ts). */
  throttle: SignInThrottle
  /** Told of level changes (cached checks go) and password changes (other sessions end). */
  sessions: SessionService
  log: FastifyBaseLogger
}

/** Emails arrive as normaliseEmail (src/schemas/user.ts) leaves them: trimmed and lower-cased. */
export function createUserService ({ users, hasher, throttle, sessions, log }: Deps) {
  /**
   * The signed-in user's password, asked again before a change that needs it (a password
   * change, an account's deletion): a wrong one is INVALID_CREDENTIALS and counts as a failed
   * sign-in for the account's email, so a stolen token cannot be used to guess the password
   * past the throttle (429 TOO_MANY_SIGN_IN_FAILURES, before any check).
   */
  async function confirmPassword (userId: number, password: string): Promise<User> {
    const user = await users.get(userId)
    if (user === undefined) throw notFound('user')
    const checked = await throttle.attempt(user.email, async () => {
      const record = await users.findByEmail(user.email)
      return record !== undefined && await hasher.verify(record.password_hash, password) ? true : undefined
    })
    if (checked === undefined) throw wrongCurrentPassword()
    return user
  }

  return {
    confirmPassword,

    async signUp (email: string, password: string): Promise<User> {
      if (isBreachedPassword(password)) throw breachedPassword()
      // No look-up first: the unique index decides, races included (EMAIL_TAKEN).
      const passwordHash = await hasher.hash(password)
      return users.create({ email, password_hash: passwordHash, permission: Permission.User })
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

    /** Every other session ends. */
    async changePassword (userId: number, currentSid: string, currentPassword: string, newPassword: string): Promise<void> {
      await confirmPassword(userId, currentPassword)
      if (isBreachedPassword(newPassword)) throw breachedPassword()
      await users.setPasswordHash(userId, await hasher.hash(newPassword, { mayShed: false }))
      const ended = await sessions.endAll(userId, currentSid)
      log.info({ userId, sessionsEnded: ended }, 'password changed')
    },

    /** The bootstrap Admin from configuration: created, or promoted if the account exists. */
    async ensureAdmin (email: string, password: string): Promise<User> {
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
