import fp from 'fastify-plugin'
import { sharedRedis } from '../external/redis'
import { normaliseEmail } from '../../src/schemas/user'
import { createAuditService, type AuditService } from '../../src/services/audit'
import { createAccountService, type AccountService } from '../../src/services/accounts'
import { createAuthService, type AuthService, type SignedIn } from '../../src/services/auth'
import { createApiKeyService, type ApiKeyService } from '../../src/services/api-keys'
import { createBookService, type BookService } from '../../src/services/books'
import { createLeavingService, type LeavingService } from '../../src/services/leaving'
import { createPasskeyService, type PasskeyService } from '../../src/services/passkeys'
import { createPasswordHasher } from '../../src/services/passwords'
import { createReadiness } from '../../src/services/readiness'
import { createReviewService, type ReviewService } from '../../src/services/reviews'
import { createSessionService, type SessionService } from '../../src/services/sessions'
import { createSignInThrottle } from '../../src/services/throttle'
import { createTotpService, type TotpService } from '../../src/services/totp'
import { createPasswordCheck } from '../../src/services/password-check'
import { createUserService, type UserService } from '../../src/services/users'

declare module 'fastify' {
  interface FastifyInstance {
    books: BookService
    users: UserService
    /** Verification, password reset, email change. */
    accounts: AccountService
    /** Sign-in and refresh: the token pair. */
    auth: AuthService
    sessions: SessionService
    /** API keys: their owners' routes and the checks of requests that send one. */
    apiKeys: ApiKeyService
    reviews: ReviewService
    /** TOTP as a second factor: set up, confirm, disable. */
    totp: TotpService
    /** An account's export and deletion. */
    leaving: LeavingService
    /** Passkeys: registration, and sign-in with one. */
    passkeys: PasskeyService<SignedIn>
    /** The audit log as Admins read it (events are appended by the services whose changes they record). */
    audit: AuditService
    /** Which configured backing services answer now (GET /health/ready). */
    readiness: ReturnType<typeof createReadiness>
  }
}

/** What routes call: rules, hashing, caching. Also creates or promotes the bootstrap Admin. */
export default fp(async function servicesPlugin (fastify) {
  const { config, stores, cache } = fastify
  const log = fastify.log.child({ module: 'services' })

  const books = createBookService({
    books: stores.books,
    reads: stores.reads,
    atomic: stores.atomic,
    reviews: stores.reviews,
    cache,
    ttlSeconds: config.cacheTtlSeconds,
    storeTimeoutMs: config.backendTimeoutMs,
    log,
    ...(fastify.metrics === undefined ? {} : { onCache: fastify.metrics.cacheObserver })
  })
  fastify.decorate('books', books)
  // Key checks, like session checks, go through the cache only when it is Redis.
  const apiKeys = createApiKeyService({
    apiKeys: stores.apiKeys,
    atomic: stores.atomic,
    checkCache: sharedRedis(fastify) === undefined ? undefined : cache,
    counters: cache,
    rateLimit: config.apiKeyRateLimit,
    timeoutMs: config.backendTimeoutMs,
    log: log.child({ module: 'api-keys' })
  })
  fastify.decorate('apiKeys', apiKeys)
  const sessions = createSessionService({
    sessions: stores.sessions,
    users: stores.users,
    atomic: stores.atomic,
    // Session checks go through the cache only when it is Redis, which every instance shares.
    cache: sharedRedis(fastify) === undefined ? undefined : cache,
    timeoutMs: config.backendTimeoutMs,
    refreshTokenDays: config.refreshTokenDays,
    log: log.child({ module: 'sessions' }),
    onUserChange: apiKeys.forgetAll
  })
  fastify.decorate('sessions', sessions)
  const hasher = createPasswordHasher(config.argon2, { maxQueue: config.shedPasswordQueue, maxWaitMs: config.shedPasswordWaitMs, tracing: fastify.tracing })
  const throttle = createSignInThrottle({ counters: cache, maxFailures: config.signinMaxFailures, windowMinutes: config.signinWindowMinutes, log })
  const checkPassword = createPasswordCheck({ users: stores.users, hasher, throttle })
  const nudge = (): void => { fastify.mail.nudge() }
  const totp = createTotpService({ stores, checkPassword, throttle, log: log.child({ module: 'totp' }) })
  fastify.decorate('totp', totp)
  const accounts = createAccountService({
    stores,
    hasher,
    throttle,
    sessions,
    checkPassword,
    nudge,
    publicUrl: config.publicUrl,
    verifyEmailHours: config.verifyEmailHours,
    resetTokenMinutes: config.resetTokenMinutes,
    log: log.child({ module: 'accounts' }),
    secondFactor: totp
  })
  fastify.decorate('accounts', accounts)
  // Password-reset requests answered before their work is done finish before the stores close.
  fastify.addHook('onClose', async () => { await accounts.drain() })
  const users = createUserService({ users: stores.users, reads: stores.reads, atomic: stores.atomic, hasher, checkPassword, sessions, accounts, nudge, log })
  fastify.decorate('users', users)
  fastify.decorate('auth', createAuthService({
    users: stores.users,
    hasher,
    throttle,
    sessions,
    audit: stores.audit,
    sign: (claims) => fastify.jwt.sign(claims),
    accessTokenSeconds: config.accessTokenMinutes * 60,
    log,
    secondFactor: totp
  }))
  const passkeys = createPasskeyService({
    passkeys: stores.passkeys,
    atomic: stores.atomic,
    rpId: config.webauthn.rpId,
    origins: config.webauthn.origins,
    signIn: (userId, ctx) => fastify.auth.signInVerified(userId, ctx, 'passkey'),
    log: log.child({ module: 'passkeys' })
  })
  fastify.decorate('passkeys', passkeys)
  fastify.decorate('reviews', createReviewService({ reviews: stores.reviews, books }))
  fastify.decorate('leaving', createLeavingService({
    users,
    checkPassword,
    sessions,
    passkeys,
    apiKeys,
    reviews: stores.reviews,
    // With MONGODB_URL set, reviews live there (plugins/app/stores.ts), outside the SQL transaction.
    reviewsApart: config.mongodbUrl === undefined ? undefined : stores.reviews,
    atomic: stores.atomic,
    idempotency: fastify.idempotencyRecords,
    log: log.child({ module: 'leaving' })
  }))
  fastify.decorate('audit', createAuditService({ audit: stores.audit }))
  fastify.decorate('readiness', createReadiness([...stores.backends, cache], config.backendTimeoutMs))

  if (config.adminEmail !== undefined && config.adminPassword !== undefined) {
    const admin = await fastify.users.ensureAdmin(normaliseEmail(config.adminEmail), config.adminPassword)
    log.info({ userId: admin.id }, 'bootstrap Admin ready')
  }
}, { name: 'services', dependencies: ['config', 'jwt', 'redis-client', 'stores', 'cache', 'metrics', 'mail', 'idempotency'] })
