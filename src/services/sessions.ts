import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type { KeyValueCache } from '../cache/types'
import { withDeadline } from '../deadline'
import { notFound, refreshTokenInvalid, refreshTokenReused } from '../domain/errors'
import type { Session, SessionRecord } from '../schemas/session'
import type { User } from '../schemas/user'
import type { SessionAccess, SessionStore, UserStore } from '../stores/types'

interface Deps {
  sessions: SessionStore
  users: UserStore
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
}

/** How long one instance may answer a check from Redis before it reads the database again. */
export const ACCESS_CACHE_SECONDS = 60

const DAY_MS = 24 * 3600 * 1000

/** Only this digest of a refresh token is stored; the token itself is never kept. */
export const refreshTokenHash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex')

export function createSessionService ({ sessions, users, cache, timeoutMs, refreshTokenDays, log }: Deps) {
  const key = (sid: string): string => `session:${sid}`
  const now = (): string => new Date().toISOString()

  async function cached<T> (what: string, call: () => Promise<T>): Promise<T | undefined> {
    if (cache === undefined) return undefined
    try {
      return await withDeadline(call(), timeoutMs, cache.name)
    } catch (err) {
      log.warn({ err, cache: cache.name }, `session check cache ${what} failed; using the database`)
      return undefined
    }
  }

  let closed = false
  /** Deletes each key within the deadline; answers the ids whose delete failed. */
  async function drop (ids: readonly string[]): Promise<string[]> {
    if (cache === undefined) return []
    const failed: string[] = []
    await Promise.all(ids.map(async (sid) => {
      try {
        await withDeadline(cache.del(key(sid)), timeoutMs, cache.name)
      } catch {
        failed.push(sid)
      }
    }))
    return failed
  }

  /**
   * Drops the cached checks of these sessions. A check that read the database before the
   * change and writes its (old) answer after this delete would leave a stale entry, so the
   * delete is repeated once every such in-flight check has had its deadlines to finish; a
   * delete that failed (Redis down) is retried every second until it succeeds or the entry
   * has expired by itself. Meanwhile an instance that cannot reach Redis reads the database.
   */
  async function forget (ids: readonly string[]): Promise<void> {
    if (cache === undefined || ids.length === 0) return
    const failed = await drop(ids)
    if (failed.length > 0) {
      log.warn({ sessions: failed.length, cache: cache.name }, 'could not drop cached session checks; retrying until they expire')
    }
    const giveUpAt = Date.now() + (ACCESS_CACHE_SECONDS + 1) * 1000
    const again = (pending: readonly string[], delayMs: number): void => {
      setTimeout(() => {
        if (closed) return
        drop(pending).then((still) => {
          if (still.length > 0 && Date.now() < giveUpAt) again(still, 1000)
        }, () => undefined)
      }, delayMs).unref()
    }
    again(ids, 2 * timeoutMs + 50)
  }

  const newSession = (): { id: string, refreshToken: string } =>
    ({ id: randomBytes(16).toString('hex'), refreshToken: randomBytes(32).toString('base64url') })

  return {
    /** A sign-in: a new session lasting REFRESH_TOKEN_DAYS, and its first refresh token. */
    async start (userId: number): Promise<{ session: SessionRecord, refreshToken: string }> {
      const { id, refreshToken } = newSession()
      const at = now()
      const expiresAt = new Date(Date.parse(at) + refreshTokenDays * DAY_MS).toISOString()
      const session = await sessions.create({ id, user_id: userId, token_hash: refreshTokenHash(refreshToken), now: at, expires_at: expiresAt })
      return { session, refreshToken }
    },

    /** Spends `refreshToken` for a new one on the same session, with the user as stored now. */
    async refresh (refreshToken: string): Promise<{ session: SessionRecord, refreshToken: string, user: User }> {
      const next = newSession().refreshToken
      const result = await sessions.rotate(refreshTokenHash(refreshToken), refreshTokenHash(next), now())
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
     */
    async access (sid: string): Promise<SessionAccess | undefined> {
      const hit = await cached('read', () => cache?.get(key(sid)) ?? Promise.resolve(undefined))
      if (hit !== undefined) {
        try {
          return JSON.parse(hit) as SessionAccess
        } catch {
          // Not ours (or damaged): the database answers.
        }
      }
      const found = await sessions.access(sid)
      if (found !== undefined && cache !== undefined) {
        // An ended session stays ended, so that answer may be kept as long as a live one.
        const left = Math.floor((Date.parse(found.expires_at) - Date.now()) / 1000)
        const ttl = found.ended ? ACCESS_CACHE_SECONDS : Math.min(ACCESS_CACHE_SECONDS, left)
        if (ttl >= 1) await cached('write', () => cache.set(key(sid), JSON.stringify(found), ttl))
      }
      return found
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

    /** Stops the background retries of deletes (the app is closing). */
    close (): void {
      closed = true
    },

    /** After a level change: every live session's cached check goes, so the next request reads the new level. */
    async forgetUser (userId: number): Promise<void> {
      await forget(await sessions.liveIds(userId, now()))
    }
  }
}

export type SessionService = ReturnType<typeof createSessionService>
