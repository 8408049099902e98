import type { FastifyBaseLogger } from 'fastify'
import type { User } from '../schemas/user'
import type { RequestContext } from '../domain/context'
import { Permission } from '../domain/permission'
import { AppError, breachedPassword, cannotLowerOwnLevel, notFound } from '../domain/errors'
import type { SqlStores } from '../stores/sql'
import type { RoutedReads } from '../stores/reads'
import type { Page, UserStore } from '../stores/types'
import { isBreachedPassword } from '../../config/breached-passwords'
import type { AccountService } from './accounts'
import { auditEntry } from './audit'
import type { PasswordHasher } from './passwords'
import type { SessionService } from './sessions'
import type { PasswordCheck } from './password-check'

interface Deps {
  /** The primary's: writes, and the reads that decide one. */
  users: UserStore
  /** The reads of GET /users, /users/:id and /users/me (and the export): a replica's when one holds this instance's writes. */
  reads?: RoutedReads | undefined
  /** Where a change, the mail it causes and its audit event commit together. */
  atomic: SqlStores['atomic']
  hasher: PasswordHasher
  /** The password check every route that asks for the current password goes through (src/services/password-check.ts). */
  checkPassword: PasswordCheck
  /** Told of level changes (cached checks go) and password changes (other sessions end). */
  sessions: SessionService
  /** The messages sign-up and a password change send. */
  accounts: Pick<AccountService, 'enqueueVerification' | 'passwordChangedNotice'>
  /** Wakes the outbox worker after a commit that enqueued mail. */
  nudge: () => void
  log: FastifyBaseLogger
}


/** Emails arrive as normaliseEmail (src/schemas/user.ts) leaves them: trimmed and lower-cased. */
export function createUserService ({ users, reads, atomic, hasher, checkPassword, sessions, accounts, nudge, log }: Deps) {
  const routed = <R>(fn: (store: Pick<UserStore, 'get' | 'list'>) => Promise<R>): Promise<R> =>
    reads === undefined ? fn(users) : reads('own-writes', (s) => fn(s.users))

  return {
    /** The account, its verification message and its audit event, together or not at all. */
    async signUp (email: string, password: string, ctx: RequestContext): Promise<User> {
      if (isBreachedPassword(password)) throw breachedPassword()
      // No look-up first: the unique index decides, races included (EMAIL_TAKEN).
      const passwordHash = await hasher.hash(password)
      const user = await atomic(async (s) => {
        const created = await s.users.create({ email, password_hash: passwordHash, permission: Permission.User })
        // Issued at the account's own instant: the resend limit tells it apart by that.
        await accounts.enqueueVerification(s, created, created.created_at)
        await s.audit.append(auditEntry('user.signed_up', ctx, { userId: created.id }), created.created_at)
        return created
      })
      nudge()
      return user
    },

    async get (id: number): Promise<User> {
      const user = await routed((store) => store.get(id))
      if (user === undefined) throw notFound('user')
      return user
    },

    async list (page: Page): Promise<User[]> {
      return routed((store) => store.list(page))
    },

    /**
     * The store refuses to lower the last Admin (LAST_ADMIN), atomically with the write. The
     * audit event (from, to) is in the same transaction; setting the level a user has already
     * is no change and records none.
     */
    async setPermission (actorId: number, id: number, permission: Permission, ctx: RequestContext): Promise<User> {
      if (actorId === id && permission < Permission.Admin) throw cannotLowerOwnLevel()
      const user = await atomic(async (s) => {
        // A plain read, not lock(): setPermission locks the Admin rows first, and taking this
        // row's lock before them could deadlock two Admins changing each other.
        const before = await s.users.get(id)
        if (before === undefined) return undefined
        const after = await s.users.setPermission(id, permission)
        if (after !== undefined && after.permission !== before.permission) {
          await s.audit.append(auditEntry('user.permission_changed', ctx, { userId: id, details: { from: before.permission, to: after.permission } }), new Date().toISOString())
        }
        return after
      })
      if (user === undefined) throw notFound('user')
      await sessions.forgetUser(id)
      return user
    },

    /**
     * The current password is checked as every such route checks it (checkPassword). The new
     * hash, the "Password changed" notice and the audit event commit together; every other
     * session ends.
     */
    async changePassword (userId: number, currentSid: string, currentPassword: string, newPassword: string, ctx: RequestContext): Promise<void> {
      await checkPassword(userId, currentPassword)
      if (isBreachedPassword(newPassword)) throw breachedPassword()
      const passwordHash = await hasher.hash(newPassword, { mayShed: false })
      await atomic(async (s) => {
        const at = new Date().toISOString()
        const user = await s.users.get(userId)
        if (user === undefined) throw notFound('user')
        await s.users.setPasswordHash(userId, passwordHash)
        await accounts.passwordChangedNotice(s, user, at)
        await s.audit.append(auditEntry('user.password_changed', ctx, { userId }), at)
      })
      nudge()
      const ended = await sessions.endAll(userId, currentSid)
      log.info({ userId, sessionsEnded: ended }, 'password changed')
    },

    /** The bootstrap Admin from configuration: created, or promoted if the account exists. */
    async ensureAdmin (email: string, password: string): Promise<User> {
      const existing = await users.findByEmail(email)
      if (existing === undefined) {
        try {
          // The operator chose this address: it counts as verified.
          return await users.create({ email, password_hash: await hasher.hash(password, { mayShed: false }), permission: Permission.Admin, email_verified: true })
        } catch (err) {
          // Another instance created it first: promote that one below.
          if (!(err instanceof AppError && err.code === 'EMAIL_TAKEN')) throw err
        }
      }
      const user = existing ?? await users.findByEmail(email)
      if (user === undefined) throw notFound('user')
      if (!user.email_verified) await users.markVerified(user.id)
      if (user.permission === Permission.Admin) {
        if (!user.email_verified) await sessions.forgetUser(user.id)
        return { id: user.id, email: user.email, permission: user.permission, created_at: user.created_at, email_verified: true, totp_enabled: user.totp_enabled }
      }
      const promoted = await users.setPermission(user.id, Permission.Admin)
      if (promoted === undefined) throw notFound('user')
      await sessions.forgetUser(user.id)
      return promoted
    }
  }
}

export type UserService = ReturnType<typeof createUserService>
