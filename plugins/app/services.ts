import fp from 'fastify-plugin'
import { createBookService, type BookService } from '../../src/services/books'
import { createPasswordHasher } from '../../src/services/passwords'
import { createReadiness } from '../../src/services/readiness'
import { createReviewService, type ReviewService } from '../../src/services/reviews'
import { createUserService, type UserService } from '../../src/services/users'

declare module 'fastify' {
  interface FastifyInstance {
    books: BookService
    users: UserService
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
    cacheTimeoutMs: config.backendTimeoutMs,
    log,
    ...(fastify.metrics === undefined ? {} : { onCache: fastify.metrics.cacheObserver })
  })
  fastify.decorate('books', books)
  fastify.decorate('users', createUserService({
    users: stores.users,
    hasher: createPasswordHasher(config.argon2),
    counters: cache,
    maxFailures: config.signinMaxFailures,
    windowMinutes: config.signinWindowMinutes,
    log
  }))
  fastify.decorate('reviews', createReviewService({ reviews: stores.reviews, books }))
  fastify.decorate('readiness', createReadiness([...stores.backends, cache], config.backendTimeoutMs))

  if (config.adminEmail !== undefined && config.adminPassword !== undefined) {
    const admin = await fastify.users.ensureAdmin(config.adminEmail, config.adminPassword)
    log.info({ userId: admin.id }, 'bootstrap Admin ready')
  }
}, { name: 'services', dependencies: ['config', 'stores', 'cache', 'metrics'] })
