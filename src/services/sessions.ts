import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { createCacheAside } from '../cache/cache-aside'
import type { KeyValueCache } from '../cache/types'
import type { RequestContext } from '../domain/context'
import { notFound, refreshTokenInvalid, refreshTokenReused } from '../domain/errors'
import type { Session, SessionRecord } from '../schemas/session'
import type { User } from '../schemas/user'
import type { SqlStoreSet } from '../stores/sql'
import type { SessionAccess, SessionStore, UserStore } from '../stores/types'
import { auditEntry } from './audit'

interface Deps {
  sessions: SessionStore
  users: UserStore
  /** One transaction over sessions and the audit log: a session's start or end commits with its event. */
  atomic: <T>(fn: (stores: Pick<SqlStoreSet, 'sessions' | 'audit'>) => Promise<T>) => Promise<T>
  /**
   * The shared cache of session checks: Redis only. Without Redis there is none, and every
   * check reads the database by primary key: a copy in process would not see another
   * instance end a session or change a level.
   */
  cache?: KeyValueCache | undefined
  /** A cache call that has not answered by then is abandoned for the database. */
  timeoutMs: number
  refreshTokenDays: number
  log: FastifyBaseLogger
  /**
   * Told after a user's level or verified flag changed, or their account went: the other
   * cached checks that carry the user as stored (API keys, src/services/api-keys.ts) go too.
   */
  onUserChange?: (() => Promise<void>) | undefined
}

/** How long one instance may answer a check from Redis before it reads the database again. */
const ACCESS_CACHE_SECONDS = 60

const DAY_MS = 24 * 3600 * 1000

/** Only this digest of a refresh token is stored; the token itself is never kept. */
const refreshTokenHash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')

export function createSessionService ({ sessions, users, atomic, cache, timeoutMs, refreshTokenDays, log, onUserChange }: Deps) {
  const now = (): string => new Date().toISOString()

  // Generation-scoped, as book pages are (src/cache/cache-aside.ts).
  const checks = cache === undefined
    ? undefined
    : createCacheAside<SessionAccess>({
      cache,
      namespace: 'sessions',
      ttlSeconds: ACCESS_CACHE_SECONDS,
      // Never past the session's own end; an ended session is never cached.
      maxTtlSeconds: (found) => found.ended ? 0 : Math.floor((Date.parse(found.expires_at) - Date.now()) / 1000),
      timeoutMs,
      // A check's database read is bounded by the same: no one waits on another's longer.
      leaseMs: timeoutMs,
      encode: (found) => Buffer.from(JSON.stringify(found)),
      decode: (stored) => {
        try {
          const hit = JSON.parse(stored.toString('utf8')) as SessionAccess
          return !hit.ended && Date.parse(hit.expires_at) > Date.now() ? hit : undefined
        } catch {
          return undefined // Not ours (or damaged): the database answers.
        }
      },
      log,
      label: 'session check cache',
      instead: 'using the database'
    })

  /**
   * Makes every cached check unreachable at once: a new generation of the namespace. One
   * step for any number of sessions, and race-free: a check that read the database before
   * the change and stores its answer after this lands stores it under the old generation,
   * where no one reads it. If it fails (Redis down or slow), this instance stops trusting
   * the cache and retries in the background until it lands (src/cache/coherent.ts).
   */
  async function forget (ids: readonly string[]): Promise<void> {
    if (checks === undefined || cache === undefined || ids.length === 0) return
    if (!(await checks.invalidate())) {
      log.warn({ sessions: ids.length, cache: cache.name }, 'could not invalidate cached session checks; this instance reads the database and retries')
    }
  }

  const newSession = (): { id: string, refreshToken: string } =>
    ({ id: randomBytes(16).toString('hex'), refreshToken: randomBytes(32).toString('base64url') })

  return {
    /**
     * A sign-in (by password or passkey, `method`): a new session lasting REFRESH_TOKEN_DAYS,
     * its first refresh token, and user.signed_in, in one transaction. The user is the actor:
     * the request that signs in has no signed-in user yet.
     */
    async start (userId: number, ctx: RequestContext, method: 'password' | 'passkey' = 'password'): Promise<{ session: SessionRecord, refreshToken: string }> {
      const { id, refreshToken } = newSession()
      const at = now()
      const expiresAt = new Date(Date.parse(at) + refreshTokenDays * DAY_MS).toISOString()
      const session = await atomic(async (s) => {
        const created = await s.sessions.create({ id, user_id: userId, token_hash: refreshTokenHash(refreshToken), now: at, expires_at: expiresAt })
        await s.audit.append(auditEntry('user.signed_in', { ...ctx, actorId: userId }, { userId, details: { method } }), at)
        return created
      })
      return { session, refreshToken }
    },

    /**
     * Spends `refreshToken` for a new one on the same session, with the user as stored now. A
     * spent one ends its session and records session.reuse_detected in the same transaction;
     * no actor: whoever presented it is not known to be the user.
     */
    async refresh (refreshToken: string, ctx: RequestContext): Promise<{ session: SessionRecord, refreshToken: string, user: User }> {
      const next = newSession().refreshToken
      const at = now()
      const result = await atomic(async (s) => {
        const rotation = await s.sessions.rotate(refreshTokenHash(refreshToken), refreshTokenHash(next), at)
        if (rotation.outcome === 'reused') {
          const userId = (await s.sessions.access(rotation.sessionId))?.user_id ?? null
          await s.audit.append(auditEntry('session.reuse_detected', { ...ctx, actorId: null }, { userId }), at)
        }
        return rotation
      })
      switch (result.outcome) {
        case 'invalid':
          throw refreshTokenInvalid()
        case 'reused':
          log.warn({ sessionId: result.sessionId }, 'a spent refresh token was presented again; session ended')
          await forget([result.sessionId])
          throw refreshTokenReused()
        case 'rotated': {
          const user = await users.get(result.session.user_id)
          if (user === undefined) throw refreshTokenInvalid()
          return { session: result.session, refreshToken: next, user }
        }
      }
    },

    /**
     * What a permission check needs, by one lookup: Redis when configured (falling back to the
     * database when it is down or slow), else the database by primary key.
     *
     * Revocation is authoritative in SQL, and the cache is only a positive one: it holds
     * "this session was live, at this level" and never "ended", so the worst a cached entry
     * can do is admit a session that has since ended or changed level. Every such change
     * starts a new generation (forget()), and an instance that lost the cache trusts no
     * entry again until it has started one itself (src/cache/coherent.ts): a restart,
     * restore or failover that brings an old entry back brings it back under a generation no
     * one reads. A revoked session is never admitted again because of a restore. (What the
     * cache cannot give: when the revoking instance cannot reach Redis while others can,
     * those others admit the session until its entry's TTL, under ACCESS_CACHE_SECONDS,
     * ends, while the revoking instance reads the database and keeps retrying.)
     */
    async access (sid: string): Promise<SessionAccess | undefined> {
      const load = (): Promise<SessionAccess | undefined> => sessions.access(sid)
      return checks === undefined ? load() : checks.get(`session:${sid}`, load)
    },

    async list (userId: number, currentSid: string): Promise<Session[]> {
      const live = await sessions.listLive(userId, now())
      return live.map(({ user_id: _userId, ...session }) => ({ ...session, current: session.id === currentSid }))
    },

    /** Ends one of the user's own sessions; another user's or an unknown id is SESSION_NOT_FOUND. */
    async end (userId: number, sid: string): Promise<void> {
      if (!await sessions.end(userId, sid, now())) throw notFound('session')
      await forget([sid])
    },

    /** Ends every session of the user, or every one but `exceptSid`. */
    async endAll (userId: number, exceptSid?: string): Promise<number> {
      const ended = await sessions.endAll(userId, now(), exceptSid)
      await forget(ended)
      return ended.length
    },

    /**
     * The user ends one of their own sessions (sign-out: the request's own; or another of
     * theirs), recorded as user.signed_out in the same transaction; `details.scope` says
     * which. Another user's or an unknown id is SESSION_NOT_FOUND, and nothing is recorded.
     */
    async signOut (userId: number, sid: string, currentSid: string, ctx: RequestContext): Promise<void> {
      const at = now()
      await atomic(async (s) => {
        if (!await s.sessions.end(userId, sid, at)) throw notFound('session')
        await s.audit.append(auditEntry('user.signed_out', ctx, { userId, details: { scope: sid === currentSid ? 'current' : 'other', sessions: 1 } }), at)
      })
      await forget([sid])
    },

    /** The user ends every session of theirs, this one too: one user.signed_out (`scope` all) with how many ended. */
    async signOutEverywhere (userId: number, ctx: RequestContext): Promise<number> {
      const at = now()
      const ended = await atomic(async (s) => {
        const ids = await s.sessions.endAll(userId, at)
        await s.audit.append(auditEntry('user.signed_out', ctx, { userId, details: { scope: 'all', sessions: ids.length } }), at)
        return ids
      })
      await forget(ended)
      return ended.length
    },

    /** After a level change: every live session's cached check goes, so the next request reads the new level. */
    async forgetUser (userId: number): Promise<void> {
      await forget(await sessions.liveIds(userId, now()))
      await onUserChange?.()
    },

    /**
     * After sessions were ended or deleted elsewhere (an account's deletion takes its sessions
     * with it): their cached checks go. Called after the change has committed, as forget() needs.
     */
    async forgetSessions (ids: readonly string[]): Promise<void> {
      await forget(ids)
      await onUserChange?.()
    }
  }
}

export type SessionService = ReturnType<typeof createSessionService>
