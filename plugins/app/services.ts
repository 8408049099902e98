import fp from 'fastify-plugin'
import { sharedRedis } from '../external/redis'
import { normaliseEmail } from '../../src/schemas/user'
import { createAccountService, type AccountService } from '../../src/services/accounts'
import { createAuthService, type AuthService } from '../../src/services/auth'
import { createBookService, type BookService } from '../../src/services/books'
import { createPasswordHasher } from '../../src/services/passwords'
import { createReadiness } from '../../src/services/readiness'
import { createReviewService, type ReviewService } from '../../src/services/reviews'
import { createSessionService, type SessionService } from '../../src/services/sessions'
import { createSignInThrottle } from '../../src/services/throttle'
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
    reviews: ReviewService
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
    reviews: stores.reviews,
    cache,
    ttlSeconds: config.cacheTtlSeconds,
    storeTimeoutMs: config.backendTimeoutMs,
    log,
    ...(fastify.metrics === undefined ? {} : { onCache: fastify.metrics.cacheObserver })
  })
  fastify.decorate('books', books)
  const sessions = createSessionService({
    sessions: stores.sessions,
    users: stores.users,
    // Session checks go through the cache only when it is Redis, which every instance shares.
    cache: sharedRedis(fastify) === undefined ? undefined : cache,
    timeoutMs: config.backendTimeoutMs,
    refreshTokenDays: config.refreshTokenDays,
    log: log.child({ module: 'sessions' })
  })
  fastify.decorate('sessions', sessions)
  const hasher = createPasswordHasher(config.argon2, { maxQueue: config.shedPasswordQueue })
  const throttle = createSignInThrottle({ counters: cache, maxFailures: config.signinMaxFailures, windowMinutes: config.signinWindowMinutes, log })
  const checkPassword = createPasswordCheck({ users: stores.users, hasher, throttle })
  const nudge = (): void => { fastify.mail.nudge() }
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
    log: log.child({ module: 'accounts' })
  })
  fastify.decorate('accounts', accounts)
  // Password-reset requests answered before their work is done finish before the stores close.
  fastify.addHook('onClose', async () => { await accounts.drain() })
  fastify.decorate('users', createUserService({ users: stores.users, atomic: stores.atomic, hasher, checkPassword, sessions, accounts, nudge, log }))
  fastify.decorate('auth', createAuthService({
    users: stores.users,
    hasher,
    throttle,
    sessions,
    sign: (claims) => fastify.jwt.sign(claims),
    accessTokenSeconds: config.accessTokenMinutes * 60,
    log
  }))
  fastify.decorate('reviews', createReviewService({ reviews: stores.reviews, books }))
  fastify.decorate('readiness', createReadiness([...stores.backends, cache], config.backendTimeoutMs))

  if (config.adminEmail !== undefined && config.adminPassword !== undefined) {
    const admin = await fastify.users.ensureAdmin(normaliseEmail(config.adminEmail), config.adminPassword)
    log.info({ userId: admin.id }, 'bootstrap Admin ready')
  }
}, { name: 'services', dependencies: ['config', 'jwt', 'redis-client', 'stores', 'cache', 'metrics', 'mail'] })
