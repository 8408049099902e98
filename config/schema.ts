import { Type, type Static } from '@sinclair/typebox'

/** The sample secret shipped in config/default.yml; production refuses it. */
export const SAMPLE_JWT_SECRET = 'sample-secret-do-not-use-in-production-0123456789'

/** `host:port[,host:port...]`: a name or IPv4 address, or an IPv6 one in brackets, and a port. */
const HOST_PORTS = '^\\s*(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9_.-]+):[0-9]{1,5}\\s*(,\\s*(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9_.-]+):[0-9]{1,5}\\s*)*$'

/**
 * Every setting, its type and its limits. The keys are the YAML names; `env` names the
 * environment variable that overrides each, so an error can name what the operator typed.
 */
export const ConfigSchema = Type.Object({
  nodeEnv: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], { env: 'NODE_ENV', default: 'development' }),
  host: Type.String({ minLength: 1, env: 'HOST' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, env: 'PORT' }),
  logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { env: 'LOG_LEVEL' }),
  databaseUrl: Type.String({ pattern: '^(sqlite:.+|mysql://.+)$', env: 'DATABASE_URL' }),
  /**
   * Read replicas of databaseUrl (MariaDB, GTID replication): comma-separated `mysql://` URLs
   * in the environment. Only with a mysql:// databaseUrl (config/load.ts).
   */
  databaseReplicaUrls: Type.Array(Type.String({ pattern: '^mysql://.+' }), { env: 'DATABASE_REPLICA_URLS', default: [] }),
  /** A replica whose data may be older than this is not read from until it catches up. */
  replicaMaxLagSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 86400, env: 'REPLICA_MAX_LAG_SECONDS', default: 5 }),
  mongodbUrl: Type.Optional(Type.String({ pattern: '^mongodb(\\+srv)?://.+', env: 'MONGODB_URL' })),
  redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://.+', env: 'REDIS_URL' })),
  /** Comma-separated `host:port` of Redis Sentinels (instead of REDIS_URL); with redisSentinelName. */
  redisSentinels: Type.Optional(Type.String({ pattern: HOST_PORTS, env: 'REDIS_SENTINELS' })),
  /** The master the Sentinels monitor, by the name in their `sentinel monitor` line. */
  redisSentinelName: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,128}$', env: 'REDIS_SENTINEL_NAME' })),
  /** Comma-separated `host:port` of some nodes of a Redis Cluster (instead of REDIS_URL). */
  redisClusterNodes: Type.Optional(Type.String({ pattern: HOST_PORTS, env: 'REDIS_CLUSTER_NODES' })),
  /** The Redis servers' password (AUTH) with REDIS_SENTINELS or REDIS_CLUSTER_NODES; REDIS_URL carries its own. */
  redisPassword: Type.Optional(Type.String({ minLength: 1, env: 'REDIS_PASSWORD' })),
  /** The Sentinels' own password, when they require one. */
  redisSentinelPassword: Type.Optional(Type.String({ minLength: 1, env: 'REDIS_SENTINEL_PASSWORD' })),
  // At least 32 bytes, checked in config/load.ts: a length here would count characters.
  jwtSecret: Type.String({ minLength: 1, env: 'JWT_SECRET' }),
  /** Secrets that still verify (chosen by `kid`) during a rotation; comma-separated in the environment. */
  jwtPreviousSecrets: Type.Array(Type.String({ minLength: 1 }), { env: 'JWT_PREVIOUS_SECRETS', default: [] }),
  accessTokenMinutes: Type.Integer({ minimum: 1, maximum: 1440, env: 'ACCESS_TOKEN_MINUTES' }),
  refreshTokenDays: Type.Number({ exclusiveMinimum: 0, maximum: 365, env: 'REFRESH_TOKEN_DAYS' }),
  pageSize: Type.Integer({ minimum: 1, maximum: 100, env: 'PAGE_SIZE' }),
  adminEmail: Type.Optional(Type.String({ format: 'email', maxLength: 254, env: 'ADMIN_EMAIL' })),
  adminPassword: Type.Optional(Type.String({ minLength: 8, maxLength: 128, env: 'ADMIN_PASSWORD' })),
  authRateLimit: Type.Integer({ minimum: 1, env: 'AUTH_RATE_LIMIT' }),
  signinMaxFailures: Type.Integer({ minimum: 1, env: 'SIGNIN_MAX_FAILURES' }),
  signinWindowMinutes: Type.Number({ exclusiveMinimum: 0, env: 'SIGNIN_WINDOW_MINUTES' }),
  /** Requests a minute per API key, counted in the cache (Redis: across instances). */
  apiKeyRateLimit: Type.Integer({ minimum: 1, env: 'API_KEY_RATE_LIMIT' }),
  cacheTtlSeconds: Type.Integer({ minimum: 1, env: 'CACHE_TTL_SECONDS' }),
  /** Comma-separated origins (`https://app.example.com`) whose browser apps may call the API; checked in config/load.ts. */
  corsOrigins: Type.Optional(Type.String({ minLength: 1, env: 'CORS_ORIGINS' })),
  /** `true`, a hop count, or comma-separated proxy addresses/CIDRs; checked and parsed in config/load.ts. */
  trustProxy: Type.Optional(Type.String({ minLength: 1, env: 'TRUST_PROXY' })),
  /** A second listener on HOST:METRICS_PORT serving GET /metrics (Prometheus). */
  metricsPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, env: 'METRICS_PORT' })),
  /**
   * Where links in mail point (`<APP_URL>/<action>?token=…`); also the passkeys' default
   * relying party. Unset: the service's own base URL, `http://HOST:PORT` (config/load.ts).
   */
  appUrl: Type.Optional(Type.String({ pattern: '^https?://[^/?#]+(/[^?#]*)?$', env: 'APP_URL' })),
  /** The mail server; unset: messages are written as .eml files into mailDir. */
  smtpUrl: Type.Optional(Type.String({ pattern: '^smtps?://.+', env: 'SMTP_URL' })),
  mailFrom: Type.String({ minLength: 3, maxLength: 320, env: 'MAIL_FROM', default: 'Bookstore <no-reply@localhost>' }),
  mailDir: Type.String({ minLength: 1, env: 'MAIL_DIR', default: './data/mail' }),
  verifyEmailHours: Type.Number({ exclusiveMinimum: 0, maximum: 8760, env: 'VERIFY_EMAIL_HOURS', default: 48 }),
  resetTokenMinutes: Type.Number({ exclusiveMinimum: 0, maximum: 10080, env: 'RESET_TOKEN_MINUTES', default: 30 }),
  /** The passkeys' relying party (a registrable domain of the origins); unset: APP_URL's host name (config/load.ts). */
  webauthnRpId: Type.Optional(Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+$', env: 'WEBAUTHN_RP_ID' })),
  /** Comma-separated origins a passkey ceremony may come from; unset: APP_URL's origin. Checked in config/load.ts. */
  webauthnOrigins: Type.Optional(Type.String({ minLength: 1, env: 'WEBAUTHN_ORIGINS' })),
  /** Unverified users may not use routes that need User or more (but the few that let them verify or leave). */
  requireVerifiedEmail: Type.Boolean({ env: 'REQUIRE_VERIFIED_EMAIL', default: false }),
  /** argon2id cost; raising it makes sign-in rehash old passwords. Not settable from env. */
  argon2: Type.Object({
    memoryCost: Type.Integer({ minimum: 19456, default: 19456 }),
    timeCost: Type.Integer({ minimum: 2, default: 2 }),
    parallelism: Type.Integer({ minimum: 1, default: 1 }),
    /**
     * Hashes in flight at once (each holds memoryCost KiB): bounds the service's memory.
     * Unset: one per core the process may run on, at most 2 (src/services/passwords.ts).
     */
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 }))
  }, { default: {}, additionalProperties: false }),
  /** Prefix of every key this deployment writes to a shared Redis. YAML only. */
  cacheNamespace: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', default: 'bookstore' }),
  /** Per-request deadline for backing services, in milliseconds. */
  backendTimeoutMs: Type.Integer({ minimum: 50, maximum: 60000, default: 1000 }),
  /**
   * A request's headers and body must arrive within this many milliseconds, else 408 and the
   * connection is closed (the contract says 30 seconds). YAML only: tests shorten it.
   */
  requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600000, default: 30000 }),
  /**
   * How long a shutdown may drain before what still runs is cut off (exit 1); the contract
   * says 10 seconds. YAML only: tests shorten it.
   */
  shutdownGraceMs: Type.Integer({ minimum: 100, maximum: 600000, default: 10000 }),
  /** Shed (503 at once) while the mean event-loop delay over the last second is above this; 0: never. */
  shedEventLoopDelayMs: Type.Integer({ minimum: 0, maximum: 60000, default: 100, env: 'SHED_EVENT_LOOP_DELAY_MS' }),
  /** Shed while the V8 heap in use is above this many MiB; unset: 90% of V8's heap limit. */
  shedHeapUsedMb: Type.Optional(Type.Integer({ minimum: 16, env: 'SHED_HEAP_USED_MB' })),
  /** Shed while the resident set is above this many MiB; unset: never (set it below the container's memory limit). */
  shedRssMb: Type.Optional(Type.Integer({ minimum: 16, env: 'SHED_RSS_MB' })),
  /**
   * Sign-up, sign-in and password changes wait for a free argon2 slot (argon2.concurrency run
   * at once) while their estimated wait (the checks ahead, at the measured pace) is at most
   * this many milliseconds; past it they answer 503 at once. A client waits a second or two
   * gladly, while one refused resends at once: refusals a client would have waited through
   * cost the core argon2 needs.
   */
  shedPasswordWaitMs: Type.Integer({ minimum: 0, maximum: 60000, default: 2000, env: 'SHED_PASSWORD_WAIT_MS' }),
  /**
   * And at most this many wait, whatever the pace: each holds a request and its connection.
   * 0: a check that finds every slot busy is refused.
   */
  shedPasswordQueue: Type.Integer({ minimum: 0, maximum: 100000, default: 256, env: 'SHED_PASSWORD_QUEUE' }),
  /**
   * How long start-up waits for each backing service (MySQL, MongoDB, Redis) to answer before
   * it gives up and the process exits 1. `npm run migrate` waits less unless this is set.
   */
  startupWaitSeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 60, env: 'STARTUP_WAIT_SECONDS' }),
  /**
   * The OTLP/HTTP collector traces go to (`<endpoint>/v1/traces`); unset: nothing is traced and
   * no OpenTelemetry module is loaded (src/tracing.ts).
   */
  otelExporterOtlpEndpoint: Type.Optional(Type.String({ pattern: '^https?://[^?#]+$', env: 'OTEL_EXPORTER_OTLP_ENDPOINT' })),
  /** The service.name every span carries. */
  otelServiceName: Type.String({ minLength: 1, maxLength: 255, env: 'OTEL_SERVICE_NAME', default: 'bookstore' })
}, { additionalProperties: false })

/**
 * The settings that hold a credential: in production none may hold a value published in
 * config/default.yml or a sample env file (config/load.ts). A list is held to it entry by entry,
 * a URL (a name ending in `Url`, or each of a list ending in `Urls`) by the password in it.
 */
export const SECRET_SETTINGS = ['jwtSecret', 'jwtPreviousSecrets', 'adminPassword', 'databaseUrl', 'databaseReplicaUrls', 'mongodbUrl', 'redisUrl', 'redisPassword', 'redisSentinelPassword', 'smtpUrl'] as const satisfies ReadonlyArray<keyof Settings>

/** The settings as written: YAML keys, environment variables, overrides. */
export type Settings = Static<typeof ConfigSchema>

/** Where books and users live, parsed once from DATABASE_URL by config/load.ts. */
export const DatabaseTarget = Type.Union([
  Type.Object({ kind: Type.Literal('sqlite'), file: Type.String({ description: 'An absolute path, or :memory:' }) }),
  Type.Object({ kind: Type.Literal('mysql'), url: Type.String() })
])
export type DatabaseTarget = Static<typeof DatabaseTarget>

/** One `host:port` of REDIS_SENTINELS or REDIS_CLUSTER_NODES. */
export interface RedisNode { host: string, port: number }

/**
 * Which Redis, parsed once from REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES by
 * config/load.ts (at most one of them is set): one server, a master found through Sentinels,
 * or a Cluster. src/cache/redis-client.ts makes the client for each.
 */
export type RedisTarget =
  | { kind: 'single', url: string }
  | { kind: 'sentinel', sentinels: RedisNode[], name: string, password?: string, sentinelPassword?: string }
  | { kind: 'cluster', nodes: RedisNode[], password?: string }

/**
 * What the app reads: the validated settings, and `database` parsed from `databaseUrl`, so
 * nothing else looks at a URL's prefix (plugins/app/stores.ts switches on `database.kind`).
 */
export type Config = Settings & {
  readonly database: DatabaseTarget
  /** Which Redis, if any (unset: the in-process cache). */
  readonly redis: RedisTarget | undefined
  /** CORS_ORIGINS as a list (empty: no cross-origin access). */
  readonly allowedOrigins: readonly string[]
  /** TRUST_PROXY as Fastify's `trustProxy` takes it (false: X-Forwarded-* change nothing). */
  readonly proxyTrust: boolean | number | string[]
  /** APP_URL without a trailing slash, or the service's own base URL when it is unset. */
  readonly publicUrl: string
  /** The relying party and accepted origins of passkey ceremonies, defaults filled from publicUrl. */
  readonly webauthn: { readonly rpId: string, readonly origins: readonly string[] }
}
