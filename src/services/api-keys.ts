import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { createCacheAside } from '../cache/cache-aside'
import { failOpen } from '../cache/fail-open'
import type { KeyValueCache } from '../cache/types'
import type { RequestContext } from '../domain/context'
import { apiKeyInvalid, apiKeyNotFound, forbidden, notFound, tooManyApiKeys } from '../domain/errors'
import type { Permission } from '../domain/permission'
import { DEFAULT_EXPIRES_IN_DAYS, type ApiKey, type CreatedApiKey } from '../schemas/api-key'
import type { SqlStoreSet } from '../stores/sql'
import type { ApiKeyAccess, ApiKeyStore } from '../stores/types'
import { auditEntry } from './audit'

/** The contract's cap on a user's live keys. */
export const MAX_LIVE_API_KEYS = 20
/** What marks a bearer credential as an API key rather than a JWT (which starts `eyJ`). */
export const API_KEY_PREFIX = 'bsk_'
/** last_used_at moves at most this often. */
const TOUCH_INTERVAL_MS = 60_000
/** How long one instance may answer a key check from Redis before it reads the database again. */
const CHECK_CACHE_SECONDS = 60
const DAY_MS = 24 * 3600 * 1000

interface Deps {
  apiKeys: ApiKeyStore
  /** One transaction: the user's lock, the count, the key and its audit event commit together. */
  atomic: <T>(fn: (stores: Pick<SqlStoreSet, 'users' | 'apiKeys' | 'audit'>) => Promise<T>) => Promise<T>
  /**
   * The shared cache of key checks: Redis only, as for session checks (src/services/sessions.ts):
   * a copy in process would not see another instance revoke a key or change a level.
   */
  checkCache?: KeyValueCache | undefined
  /** The per-key request counters: the cache, Redis when configured, so instances share them. */
  counters: Pick<KeyValueCache, 'name' | 'incr'>
  rateLimit: number
  timeoutMs: number
  log: FastifyBaseLogger
}

/** Who a request with a valid API key acts as. No session: `sid` is absent. */
export interface ApiKeyPrincipal {
  user_id: number
  /** The user's address, as a token's `user_name` is. */
  user_name: string
  /** The lower of the key's permission and its user's current level. */
  permission: Permission
  api_key_id: string
  email_verified: boolean
}

/** Only this digest of a key is stored or cached; the key itself never is. */
export const apiKeyHash = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex')

/**
 * A key check as the shared cache holds it: the address sealed (AES-256-GCM) under a secret
 * derived from the key itself, which the cache never sees. So Redis holds no address in the
 * clear (the deletion test looks through every value), and only a request with the key can
 * read the one its entry holds.
 */
type SealedAccess = Omit<ApiKeyAccess, 'email'> & { email: string }

const sealKey = (key: string): Buffer => createHash('sha256').update('bookstore api-key cache seal\0').update(key, 'utf8').digest()

function seal (access: ApiKeyAccess, key: string): SealedAccess {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', sealKey(key), iv)
  const sealed = Buffer.concat([cipher.update(access.email, 'utf8'), cipher.final()])
  return { ...access, email: Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64') }
}

function unseal (sealed: SealedAccess, key: string): ApiKeyAccess | undefined {
  try {
    const bytes = Buffer.from(sealed.email, 'base64')
    const decipher = createDecipheriv('aes-256-gcm', sealKey(key), bytes.subarray(0, 12))
    decipher.setAuthTag(bytes.subarray(12, 28))
    return { ...sealed, email: Buffer.concat([decipher.update(bytes.subarray(28)), decipher.final()]).toString('utf8') }
  } catch {
    return undefined
  }
}

export function createApiKeyService ({ apiKeys, atomic, checkCache, counters, rateLimit, timeoutMs, log }: Deps) {
  const now = (): string => new Date().toISOString()

  const checks = checkCache === undefined
    ? undefined
    : createCacheAside<SealedAccess>({
      cache: checkCache,
      namespace: 'api-keys',
      ttlSeconds: CHECK_CACHE_SECONDS,
      // Never past the key's own expiry; a revoked key is never cached.
      maxTtlSeconds: (found) => found.revoked ? 0 : Math.floor((Date.parse(found.expires_at) - Date.now()) / 1000),
      timeoutMs,
      leaseMs: timeoutMs,
      encode: (found) => Buffer.from(JSON.stringify(found)),
      decode: (stored) => {
        try {
          const hit = JSON.parse(stored.toString('utf8')) as SealedAccess
          return !hit.revoked && Date.parse(hit.expires_at) > Date.now() ? hit : undefined
        } catch {
          return undefined
        }
      },
      log,
      label: 'API key check cache',
      instead: 'using the database'
    })

  /** Which keys this instance wrote last_used_at for, and when: a touch within the minute is skipped without a query. */
  const touched = new Map<string, number>()

  async function touch (id: string, lastUsedAt: string | null): Promise<void> {
    const at = Date.now()
    const mine = touched.get(id)
    if (mine !== undefined && at - mine < TOUCH_INTERVAL_MS) return
    if (lastUsedAt !== null && at - Date.parse(lastUsedAt) < TOUCH_INTERVAL_MS) return
    if (touched.size >= 10_000) {
      for (const [key, when] of touched) if (at - when >= TOUCH_INTERVAL_MS) touched.delete(key)
    }
    touched.set(id, at)
    try {
      await apiKeys.touch(id, new Date(at).toISOString(), new Date(at - TOUCH_INTERVAL_MS).toISOString())
    } catch (err) {
      // Bookkeeping only: the request it describes goes on.
      touched.delete(id)
      log.warn({ err, apiKeyId: id }, 'could not record an API key\'s last use')
    }
  }

  /** Every cached check goes: one new generation (as for sessions). */
  async function forgetAll (): Promise<void> {
    if (checks === undefined) return
    if (!(await checks.invalidate())) log.warn('could not invalidate cached API key checks; this instance reads the database and retries')
  }

  return {
    /**
     * A new key at `permission` (default: the caller's current level, above it FORBIDDEN) for
     * `expiresInDays`. Decided with the user row locked: two concurrent creations cannot both
     * pass the cap of 20 live keys. Answers the key itself, which nothing keeps.
     */
    async create (userId: number, input: { name: string, permission?: number | undefined, expires_in_days?: number | undefined }, ctx: RequestContext): Promise<CreatedApiKey> {
      const key = API_KEY_PREFIX + randomBytes(32).toString('base64url')
      const id = randomBytes(16).toString('hex')
      const at = now()
      const expiresAt = new Date(Date.parse(at) + (input.expires_in_days ?? DEFAULT_EXPIRES_IN_DAYS) * DAY_MS).toISOString()
      const created = await atomic(async (s) => {
        const user = await s.users.lock(userId)
        if (user === undefined) throw notFound('user')
        const permission = (input.permission ?? user.permission) as Permission
        if (permission > user.permission) throw forbidden()
        if (await s.apiKeys.countLive(userId, at) >= MAX_LIVE_API_KEYS) throw tooManyApiKeys()
        const made = await s.apiKeys.create({ id, user_id: userId, key_hash: apiKeyHash(key), name: input.name, permission, now: at, expires_at: expiresAt })
        await s.audit.append(auditEntry('api_key.created', ctx, { userId, details: { id, permission, expires_at: expiresAt } }), at)
        return made
      })
      return { id: created.id, name: created.name, key, permission: created.permission, created_at: created.created_at, expires_at: created.expires_at, last_used_at: null }
    },

    async list (userId: number): Promise<ApiKey[]> {
      return apiKeys.listLive(userId, now())
    },

    /** Revokes one of the user's own keys; another user's, an unknown or a revoked one is API_KEY_NOT_FOUND. */
    async revoke (userId: number, id: string, ctx: RequestContext): Promise<void> {
      const at = now()
      await atomic(async (s) => {
        if (!await s.apiKeys.revoke(userId, id, at)) throw apiKeyNotFound()
        await s.audit.append(auditEntry('api_key.revoked', ctx, { userId, details: { id } }), at)
      })
      await forgetAll()
    },

    /**
     * The principal a presented key acts as, or 401 API_KEY_INVALID (unknown, revoked,
     * expired). One lookup: Redis when configured (a generation-scoped positive cache, as
     * session checks are), else the database by the key's digest.
     */
    async authenticate (key: string): Promise<ApiKeyPrincipal> {
      const hash = apiKeyHash(key)
      const found = checks === undefined
        ? await apiKeys.lookup(hash)
        : await checks.get(`key:${hash}`, async () => {
          const loaded = await apiKeys.lookup(hash)
          return loaded === undefined ? undefined : seal(loaded, key)
        }).then((hit) => hit === undefined ? undefined : unseal(hit, key))
      if (found === undefined || found.revoked || Date.parse(found.expires_at) <= Date.now()) throw apiKeyInvalid()
      await touch(found.id, found.last_used_at)
      return {
        user_id: found.user_id,
        user_name: found.email,
        permission: Math.min(found.permission, found.user_permission) as Permission,
        api_key_id: found.id,
        email_verified: found.email_verified
      }
    },

    /**
     * Counts one request of the key in its minute: undefined while within API_KEY_RATE_LIMIT,
     * else the milliseconds until the window ends. A cache outage admits (and logs).
     */
    async spend (keyId: string): Promise<number | undefined> {
      const seen = await failOpen(() => counters.incr(`api-key-requests:${keyId}`, 60), undefined,
        { log, cache: counters.name, what: 'API key rate limit', instead: 'not limiting' })
      return seen !== undefined && seen.count > rateLimit ? seen.ttlMs : undefined
    },

    /** After a user's level changed or the user was deleted: cached checks of their keys go. */
    forgetAll,

    /** The account export's `api_keys`: as listed. */
    async exportOf (userId: number): Promise<ApiKey[]> {
      return apiKeys.listLive(userId, now())
    }
  }
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>
