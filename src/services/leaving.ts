import type { FastifyBaseLogger } from 'fastify'
import type { RequestContext } from '../domain/context'
import { notFound } from '../domain/errors'
import type { Passkey } from '../schemas/passkey'
import type { ApiKey } from '../schemas/api-key'
import type { AccountExport } from '../schemas/user'
import type { SqlStores } from '../stores/sql'
import type { ReviewStore } from '../stores/types'
import { auditEntry } from './audit'
import type { SessionService } from './sessions'
import type { UserService } from './users'
import type { PasswordCheck } from './password-check'

/** The replayable successes of idempotent requests (plugins/app/idempotency.ts), which may hold the address. */
interface IdempotencyRecords {
  forgetUser (userId: number): Promise<number>
}

interface Deps {
  users: Pick<UserService, 'get'>
  /** The current-password check every such route shares (src/services/password-check.ts). */
  checkPassword: PasswordCheck
  sessions: Pick<SessionService, 'list' | 'forgetSessions'>
  passkeys: { list (userId: number): Promise<Passkey[]> }
  /** The account's API keys as their owner lists them (src/services/api-keys.ts). */
  apiKeys: { exportOf (userId: number): Promise<ApiKey[]> }
  /** The review store in use: MongoDB's, or the SQL one. */
  reviews: ReviewStore
  /** Set when reviews live outside the SQL database (MongoDB): they cannot join its transaction. */
  reviewsApart: ReviewStore | undefined
  atomic: SqlStores['atomic']
  idempotency: IdempotencyRecords
  log: FastifyBaseLogger
}

/**
 * Leaving: an account's export, and its deletion with everything that names the user.
 *
 * Deletion is one SQL transaction: the user row under the last-Admin guard (LAST_ADMIN and
 * an unknown id are decided first, before anything else is touched), which takes with it,
 * by foreign keys, the sessions and their refresh tokens, pending account tokens and the
 * messages waiting in the outbox; the SQL reviews; and the `user.deleted` audit event (the
 * log keeps the user's earlier events, by id). What lives outside the SQL database and may
 * hold the address, MongoDB reviews and idempotency records, is deleted inside that
 * transaction too, after the guard and before the commit: if it fails, the transaction rolls
 * back and the account stays whole but for what was deleted, which names nobody who is gone;
 * if the commit fails after it, the same. Deleting any of it again is harmless. After the
 * commit the cached session checks go (so every token of the user is TOKEN_REVOKED from the
 * next request, on every instance), and reviews and records are swept once more, for a
 * request of the user's that was already past its permission check.
 */
export function createLeavingService ({ users, checkPassword, sessions, passkeys, apiKeys, reviews, reviewsApart, atomic, idempotency, log }: Deps) {
  async function remove (userId: number, ctx: RequestContext): Promise<void> {
    const now = new Date().toISOString()
    const sessionIds = await atomic(async (s) => {
      const live = await s.sessions.liveIds(userId, now)
      if (!await s.users.delete(userId)) throw notFound('user')
      await s.reviews.deleteByUser(userId)
      await s.audit.append(auditEntry('user.deleted', ctx, { userId }), now)
      await reviewsApart?.deleteByUser(userId)
      await idempotency.forgetUser(userId)
      return live
    })
    await sessions.forgetSessions(sessionIds)
    try {
      await reviews.deleteByUser(userId)
      await idempotency.forgetUser(userId)
    } catch (err) {
      // The account is gone; only what a request racing the deletion wrote may be left.
      log.error({ err, userId }, 'the sweep after deleting an account failed')
    }
    log.info({ userId, by: ctx.actorId, sessionsEnded: sessionIds.length }, 'account deleted')
  }

  return {
    async export (userId: number, currentSid: string): Promise<AccountExport> {
      const user = await users.get(userId)
      return {
        user,
        sessions: await sessions.list(userId, currentSid),
        reviews: await reviews.listByUser(userId),
        api_keys: await apiKeys.exportOf(userId),
        // Passkeys go with the account by foreign key (migration 6); API keys too.
        passkeys: await passkeys.list(userId)
      }
    },

    /**
     * DELETE /users/me: the password first, through the same check and throttle as a password
     * change (a wrong one, or too many, deletes nothing).
     */
    async deleteOwn (userId: number, password: string, ctx: RequestContext): Promise<void> {
      await checkPassword(userId, password)
      await remove(userId, ctx)
    },

    /** DELETE /users/:id (Admin): USER_NOT_FOUND for an unknown id. */
    async deleteUser (userId: number, ctx: RequestContext): Promise<void> {
      await remove(userId, ctx)
    }
  }
}

export type LeavingService = ReturnType<typeof createLeavingService>
