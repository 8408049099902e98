import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { loadConfig, publishedValues } from '../../config/load'
import { SAMPLE_JWT_SECRET, SECRET_SETTINGS, type Settings } from '../../config/schema'

const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-config-'))
const file = (name: string, text: string): string => {
  const p = path.join(dir, name)
  writeFileSync(p, text)
  return p
}
const STRONG = 'k'.repeat(48)

t.test('the embedded default matches the contract table', async (t) => {
  const config = loadConfig()
  t.match(config, {
    host: '127.0.0.1', port: 3000, logLevel: 'info', databaseUrl: 'sqlite:./data/bookstore.db', jwtSecret: SAMPLE_JWT_SECRET,
    accessTokenMinutes: 60, refreshTokenDays: 30, jwtPreviousSecrets: [], pageSize: 5, authRateLimit: 100, signinMaxFailures: 10, signinWindowMinutes: 15, apiKeyRateLimit: 600, cacheTtlSeconds: 60,
    argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 }
  })
  t.equal(config.mongodbUrl, undefined)
  t.same(config.databaseReplicaUrls, [], 'no read replicas')
  t.equal(config.replicaMaxLagSeconds, 5)
  t.equal(config.redisUrl, undefined)
  t.equal(config.adminEmail, undefined)
})

t.test('CONFIG_FILE, then the environment, later winning', async (t) => {
  const extra = file('extra.yml', 'port: 4000\npageSize: 7\nlogLevel: warn\n')
  const config = loadConfig({ env: { CONFIG_FILE: extra, PORT: '5000', REDIS_URL: 'redis://cache:6379/0', EMPTY: '' } })
  t.equal(config.port, 5000, 'env beats the file')
  t.equal(config.pageSize, 7, 'the file beats the default')
  t.equal(config.logLevel, 'warn')
  t.equal(config.redisUrl, 'redis://cache:6379/0')
  t.equal(loadConfig({ env: { PORT: '' } }).port, 3000, 'an empty variable is unset')
})

t.test('a bad value stops start-up with one line naming the setting', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /^Invalid configuration: PORT \(port\) must be integer$/],
    [{ PORT: '70000' }, /^Invalid configuration: PORT \(port\) must be <= 65535$/],
    [{ PAGE_SIZE: '0' }, /PAGE_SIZE \(pageSize\) must be >= 1/],
    [{ DATABASE_URL: 'postgres://x' }, /DATABASE_URL \(databaseUrl\) must match pattern/],
    [{ LOG_LEVEL: 'verbose' }, /^Invalid configuration: LOG_LEVEL \(logLevel\) must be one of fatal, error, warn, info, debug, trace, silent$/],
    [{ NODE_ENV: 'prod' }, /^Invalid configuration: NODE_ENV \(nodeEnv\) must be one of development, production, test$/],
    [{ STARTUP_WAIT_SECONDS: '-1' }, /^Invalid configuration: STARTUP_WAIT_SECONDS \(startupWaitSeconds\) must be >= 0$/],
    [{ JWT_SECRET: 'short' }, /^Invalid configuration: JWT_SECRET \(jwtSecret\) must be at least 32 bytes$/],
    [{ JWT_SECRET: 'é'.repeat(15) + 'x' }, /JWT_SECRET \(jwtSecret\) must be at least 32 bytes/],
    [{ ADMIN_EMAIL: 'boss@example.com' }, /ADMIN_EMAIL and ADMIN_PASSWORD must be set together/],
    [{ CONFIG_FILE: path.join(dir, 'missing.yml') }, /^CONFIG_FILE: cannot read .*missing\.yml \(ENOENT\)$/],
    [{ CONFIG_FILE: file('bad.yml', 'port: [1,\n') }, /^CONFIG_FILE: .* is not valid YAML/],
    [{ CONFIG_FILE: file('unknown.yml', 'prot: 1\n') }, /^Invalid configuration: prot is not a known setting$/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig({ env }), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

/** Read here from the files, more simply than the service reads them: a placeholder added later is covered too. */
const root = path.join(__dirname, '..', '..', '..')
const exampleValues = ['.env.example', 'deploy/mysql.env.example'].flatMap((file) =>
  [...readFileSync(path.join(root, file), 'utf8').matchAll(/^(\w+)=(.*)$/gm)].map((m) => ({ key: m[1] ?? '', value: (m[2] ?? '').trim() })))
const sampleSecrets = [...readFileSync(path.join(root, 'config', 'default.yml'), 'utf8').matchAll(/^jwt\w*Secrets?:\s*(\S+)/gm)].map((m) => m[1] ?? '')

const publishedMessage = (name: string, tail = ''): RegExp =>
  new RegExp(`^Invalid configuration: ${name.replace(/[()]/g, '\\$&')} is a secret published in the repository \\(config/default\\.yml, \\.env\\.example or deploy/mysql\\.env\\.example\\), which production refuses; set a random secret${tail}$`)

t.test('production refuses every value published in the repository in every secret-like setting, and short JWT keys', async (t) => {
  const published = publishedValues()
  t.ok(published.includes(SAMPLE_JWT_SECRET), 'the sample in config/default.yml is among them')
  t.same(sampleSecrets, [SAMPLE_JWT_SECRET])
  for (const { key, value } of exampleValues) t.ok(published.includes(value), `.env.example's ${key} is among them`)
  const env = { NODE_ENV: 'production', JWT_SECRET: STRONG }
  for (const secret of [...sampleSecrets, ...exampleValues.map((e) => e.value)]) {
    t.throws(() => loadConfig({ env: { NODE_ENV: 'production', JWT_SECRET: secret } }),
      { name: 'ConfigError', message: publishedMessage('JWT_SECRET (jwtSecret)', ' of at least 32 bytes') }, `JWT_SECRET=${secret}`)
    t.throws(() => loadConfig({ env: { ...env, JWT_PREVIOUS_SECRETS: `${'p'.repeat(40)},${secret}` } }),
      { message: publishedMessage('JWT_PREVIOUS_SECRETS (jwtPreviousSecrets) entry 2', ' of at least 32 bytes') }, `JWT_PREVIOUS_SECRETS=...,${secret}`)
    if (secret.length >= 8) {
      t.throws(() => loadConfig({ env: { ...env, ADMIN_EMAIL: 'boss@example.com', ADMIN_PASSWORD: secret } }),
        { message: publishedMessage('ADMIN_PASSWORD (adminPassword)') }, `ADMIN_PASSWORD=${secret}`)
    }
    t.throws(() => loadConfig({ env: { ...env, DATABASE_URL: `mysql://bookstore:${encodeURIComponent(secret)}@db:3306/bookstore` } }),
      { message: publishedMessage('the password in DATABASE_URL (databaseUrl)') }, `DATABASE_URL=mysql://bookstore:${secret}@...`)
  }
  t.throws(() => loadConfig({ env: { NODE_ENV: 'production' } }), { message: /JWT_SECRET \(jwtSecret\) is a secret published/ })
  t.throws(() => loadConfig({ env: { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(31) } }), { message: /^Invalid configuration: JWT_SECRET \(jwtSecret\) must be at least 32 bytes$/ })
  t.throws(() => loadConfig({ env: { JWT_PREVIOUS_SECRETS: 'x'.repeat(31) } }),
    { message: /^Invalid configuration: JWT_PREVIOUS_SECRETS \(jwtPreviousSecrets\) entry 1 must be at least 32 bytes$/ }, 'previous secrets too, everywhere')
  t.same(loadConfig({ env: { JWT_PREVIOUS_SECRETS: ` ${'a'.repeat(32)} ,${'b'.repeat(32)}` } }).jwtPreviousSecrets, ['a'.repeat(32), 'b'.repeat(32)], 'comma-separated')
  t.equal(loadConfig({ env }).jwtSecret, STRONG)
  t.ok(published.includes('change-me'), "the password inside .env.example's DATABASE_URL is published too")
  t.throws(() => loadConfig({ env: { ...env, DATABASE_URL: 'mysql://bookstore:change-me@mysql:3306/bookstore' } }),
    { message: publishedMessage('the password in DATABASE_URL (databaseUrl)') }, 'the sample DATABASE_URL as it is')
  t.equal(loadConfig({ env: { ...env, DATABASE_URL: 'mysql://bookstore:a-password-of-our-own@db:3306/bookstore' } }).database.kind, 'mysql', 'a password of its own is taken')
  t.equal(loadConfig({ env: { ...env, DATABASE_URL: 'sqlite:./data/bookstore.db' } }).database.kind, 'sqlite', 'a URL without a password is not a published secret')
  t.equal(loadConfig({ env: { NODE_ENV: 'development' } }).jwtSecret, SAMPLE_JWT_SECRET, 'development may use the sample')
  t.equal(loadConfig({ env: { JWT_SECRET: 'é'.repeat(16) } }).jwtSecret, 'é'.repeat(16), '32 bytes in 16 characters is enough: bytes count')
})

t.test(".env.example's ADMIN_PASSWORD: refused in production, taken elsewhere", async (t) => {
  const example = Object.fromEntries(exampleValues.map(({ key, value }) => [key, value]))
  t.equal(example.ADMIN_PASSWORD, 'change-me-admin-password')
  const env = { JWT_SECRET: STRONG, ADMIN_EMAIL: example.ADMIN_EMAIL ?? '', ADMIN_PASSWORD: example.ADMIN_PASSWORD ?? '' }
  t.throws(() => loadConfig({ env: { ...env, NODE_ENV: 'production' } }), {
    name: 'ConfigError',
    message: 'Invalid configuration: ADMIN_PASSWORD (adminPassword) is a secret published in the repository (config/default.yml, .env.example or deploy/mysql.env.example), which production refuses; set a random secret'
  })
  for (const nodeEnv of ['development', 'test']) {
    t.equal(loadConfig({ env: { ...env, NODE_ENV: nodeEnv } }).adminPassword, 'change-me-admin-password', nodeEnv)
  }
})

t.test('every secret-like setting is held to the rule', async (t) => {
  // Long enough for each: the JWT keys' 32 bytes would refuse a shorter one anyway.
  const published = 'change-me-to-a-random-string-of-at-least-32-bytes'
  const holding: Record<typeof SECRET_SETTINGS[number], Partial<Settings>> = {
    jwtSecret: { jwtSecret: published },
    jwtPreviousSecrets: { jwtPreviousSecrets: [published] },
    adminPassword: { adminEmail: 'boss@example.com', adminPassword: published },
    databaseUrl: { databaseUrl: `mysql://u:${published}@db/x` },
    databaseReplicaUrls: { databaseUrl: 'mysql://u:own-password@db/x', databaseReplicaUrls: ['mysql://u:own-password@r1/x', `mysql://u:${published}@r2/x`] },
    mongodbUrl: { mongodbUrl: `mongodb://u:${published}@a:27017,b:27017/x` },
    redisUrl: { redisUrl: `redis://:${published}@cache:6379/0` },
    redisPassword: { redisClusterNodes: 'a:7000,b:7000', redisPassword: published },
    redisSentinelPassword: { redisSentinels: 's1:26379', redisSentinelName: 'main', redisSentinelPassword: published },
    smtpUrl: { smtpUrl: `smtp://mailer:${published}@mail.example:587` }
  }
  for (const key of SECRET_SETTINGS) {
    const overrides = { jwtSecret: STRONG, ...holding[key] }
    t.throws(() => loadConfig({ env: { NODE_ENV: 'production' }, overrides }), { message: /is a secret published in the repository/ }, key)
    t.doesNotThrow(() => loadConfig({ env: { NODE_ENV: 'development' }, overrides }), `${key} outside production`)
  }
})

t.test('read replicas: comma-separated mysql:// URLs, only beside a mysql:// primary', async (t) => {
  const primary = 'mysql://u:pw@db:3306/x'
  const config = loadConfig({ env: { DATABASE_URL: primary, DATABASE_REPLICA_URLS: 'mysql://u:pw@r1:3306/x, mysql://u:pw@r2:3306/x', REPLICA_MAX_LAG_SECONDS: '1.5' } })
  t.same(config.databaseReplicaUrls, ['mysql://u:pw@r1:3306/x', 'mysql://u:pw@r2:3306/x'])
  t.equal(config.replicaMaxLagSeconds, 1.5)
  t.throws(() => loadConfig({ env: { DATABASE_REPLICA_URLS: 'mysql://u:pw@r1:3306/x' } }),
    { name: 'ConfigError', message: /^Invalid configuration: DATABASE_REPLICA_URLS \(databaseReplicaUrls\) are read only with a mysql:\/\/ DATABASE_URL/ }, 'not beside SQLite')
  t.throws(() => loadConfig({ env: { DATABASE_URL: primary, DATABASE_REPLICA_URLS: 'postgres://u:secret-pw@r1/x' } }),
    { message: /^Invalid configuration: DATABASE_REPLICA_URLS \(databaseReplicaUrls\) must match pattern/ }, 'a URL of another kind')
  t.throws(() => loadConfig({ env: { DATABASE_URL: primary, REPLICA_MAX_LAG_SECONDS: '0' } }), { message: /^Invalid configuration: REPLICA_MAX_LAG_SECONDS \(replicaMaxLagSeconds\) must be > 0$/ })
  let message = ''
  try { loadConfig({ env: { DATABASE_URL: primary, DATABASE_REPLICA_URLS: 'postgres://u:secret-pw@r1/x' } }) } catch (err) { message = (err as Error).message }
  t.notMatch(message, /secret-pw/, 'the error never repeats the URL')
})

t.test('Redis: one of REDIS_URL, REDIS_SENTINELS (with REDIS_SENTINEL_NAME) and REDIS_CLUSTER_NODES, parsed once', async (t) => {
  t.equal(loadConfig().redis, undefined, 'none: the in-process cache')
  t.same(loadConfig({ env: { REDIS_URL: 'redis://cache:6379/0' } }).redis, { kind: 'single', url: 'redis://cache:6379/0' })
  t.same(loadConfig({ env: { REDIS_SENTINELS: 's1:26379, s2:26380,[::1]:26381', REDIS_SENTINEL_NAME: 'main', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'spw' } }).redis, {
    kind: 'sentinel',
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: '::1', port: 26381 }],
    name: 'main',
    password: 'pw',
    sentinelPassword: 'spw'
  })
  t.same(loadConfig({ env: { REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7001' } }).redis, {
    kind: 'cluster', nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }]
  })
  const two = /^Invalid configuration: set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES \(REDIS_URL and REDIS_CLUSTER_NODES are set\)$/
  t.throws(() => loadConfig({ env: { REDIS_URL: 'redis://cache:6379/0', REDIS_CLUSTER_NODES: 'a:7000' } }), { name: 'ConfigError', message: two })
  t.throws(() => loadConfig({ env: { REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'a:7000' } }), { message: /\(REDIS_SENTINELS and REDIS_CLUSTER_NODES are set\)$/ })
  t.throws(() => loadConfig({ env: { REDIS_SENTINELS: 'a:26379' } }), { message: 'Invalid configuration: REDIS_SENTINELS needs REDIS_SENTINEL_NAME (redisSentinelName), the name of the master the Sentinels monitor' })
  t.throws(() => loadConfig({ env: { REDIS_SENTINEL_NAME: 'm' } }), { message: /REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD are read only with REDIS_SENTINELS/ })
  t.throws(() => loadConfig({ env: { REDIS_URL: 'redis://cache:6379/0', REDIS_PASSWORD: 'x' } }), { message: /REDIS_PASSWORD \(redisPassword\) is read only with/ })
  t.throws(() => loadConfig({ env: { REDIS_CLUSTER_NODES: 'a:7000,b' } }), { message: /^Invalid configuration: REDIS_CLUSTER_NODES \(redisClusterNodes\) must match pattern/ })
  t.throws(() => loadConfig({ env: { REDIS_SENTINELS: 'a:99999', REDIS_SENTINEL_NAME: 'm' } }), { message: 'Invalid configuration: REDIS_SENTINELS (redisSentinels) has "a:99999", whose port is not 1-65535' })
  t.throws(() => loadConfig({ env: { REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_NAME: 'no spaces' } }), { message: /^Invalid configuration: REDIS_SENTINEL_NAME \(redisSentinelName\) must match pattern/ })
})

t.test('STARTUP_WAIT_SECONDS: 60 unless set; a script may default it lower, beneath every file and variable', async (t) => {
  t.equal(loadConfig().startupWaitSeconds, 60)
  t.equal(loadConfig({ env: { STARTUP_WAIT_SECONDS: '5' } }).startupWaitSeconds, 5)
  t.equal(loadConfig({ defaults: { startupWaitSeconds: 15 } }).startupWaitSeconds, 15)
  t.equal(loadConfig({ env: { STARTUP_WAIT_SECONDS: '90' }, defaults: { startupWaitSeconds: 15 } }).startupWaitSeconds, 90)
  t.equal(loadConfig({ env: { CONFIG_FILE: file('wait.yml', 'startupWaitSeconds: 30\n') }, defaults: { startupWaitSeconds: 15 } }).startupWaitSeconds, 30)
})

t.test('TOKEN_HOURS stops start-up with one line naming ACCESS_TOKEN_MINUTES', async (t) => {
  const message = /^Invalid configuration: TOKEN_HOURS \(tokenHours\) is no longer read; set ACCESS_TOKEN_MINUTES \(accessTokenMinutes\)/
  t.throws(() => loadConfig({ env: { TOKEN_HOURS: '24' } }), { name: 'ConfigError', message })
  t.throws(() => loadConfig({ env: { CONFIG_FILE: file('hours.yml', 'tokenHours: 2\n') } }), { name: 'ConfigError', message }, 'in a file too')
  t.equal(loadConfig({ env: { TOKEN_HOURS: '' } }).accessTokenMinutes, 60, 'an empty variable is unset')
  t.equal(loadConfig({ env: { ACCESS_TOKEN_MINUTES: '15', REFRESH_TOKEN_DAYS: '7' } }).accessTokenMinutes, 15)
  t.throws(() => loadConfig({ env: { ACCESS_TOKEN_MINUTES: '0' } }), { message: /ACCESS_TOKEN_MINUTES \(accessTokenMinutes\) must be >= 1/ })
  t.throws(() => loadConfig({ env: { REFRESH_TOKEN_DAYS: '0' } }), { message: /REFRESH_TOKEN_DAYS \(refreshTokenDays\) must be > 0/ })
})

t.test('a bootstrap ADMIN_PASSWORD that sign-up would refuse stops start-up, in every environment', async (t) => {
  for (const nodeEnv of ['development', 'test', 'production']) {
    const env = { NODE_ENV: nodeEnv, JWT_SECRET: STRONG, ADMIN_EMAIL: 'boss@example.com' }
    t.throws(() => loadConfig({ env: { ...env, ADMIN_PASSWORD: 'password' } }), {
      name: 'ConfigError',
      message: /^Invalid configuration: ADMIN_PASSWORD \(adminPassword\) is on the list of commonly breached passwords/
    }, `${nodeEnv}: a breached password`)
    t.throws(() => loadConfig({ env: { ...env, ADMIN_PASSWORD: 'Short1!' } }),
      { name: 'ConfigError', message: /^Invalid configuration: ADMIN_PASSWORD \(adminPassword\) must NOT have fewer than 8 characters$/ }, `${nodeEnv}: too short`)
    t.throws(() => loadConfig({ env: { ...env, ADMIN_PASSWORD: 'x'.repeat(129) } }),
      { name: 'ConfigError', message: /^Invalid configuration: ADMIN_PASSWORD \(adminPassword\) must NOT have more than 128 characters$/ }, `${nodeEnv}: too long`)
    t.equal(loadConfig({ env: { ...env, ADMIN_PASSWORD: 'a long and unusual passphrase' } }).adminPassword, 'a long and unusual passphrase')
  }
})

t.test('DATABASE_URL is parsed once into the database the app opens', async (t) => {
  t.same(loadConfig().database, { kind: 'sqlite', file: path.resolve('data/bookstore.db') }, 'a relative file, from the working directory')
  t.same(loadConfig({ env: { DATABASE_URL: 'sqlite::memory:' } }).database, { kind: 'sqlite', file: ':memory:' })
  const url = 'mysql://user:pass@db.example:3306/bookstore'
  t.same(loadConfig({ env: { DATABASE_URL: url } }).database, { kind: 'mysql', url })
})

t.test('CORS_ORIGINS, TRUST_PROXY and METRICS_PORT', async (t) => {
  const base = loadConfig()
  t.same(base.allowedOrigins, [], 'unset: no cross-origin access')
  t.equal(base.proxyTrust, false, 'unset: no proxy is trusted')
  t.equal(base.metricsPort, undefined, 'unset: no metrics listener')
  t.same(loadConfig({ env: { CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' } }).allowedOrigins,
    ['https://a.example.com', 'http://localhost:5173'])
  for (const [value, parsed] of [['true', true], ['false', false], ['2', 2], ['10.0.0.0/8, 127.0.0.1', ['10.0.0.0/8', '127.0.0.1']], ['loopback,::1/128', ['loopback', '::1/128']]] as const) {
    t.same(loadConfig({ env: { TRUST_PROXY: value } }).proxyTrust, parsed, `TRUST_PROXY=${value}`)
  }
  t.equal(loadConfig({ env: { METRICS_PORT: '9100' } }).metricsPort, 9100)
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ CORS_ORIGINS: 'https://a.example.com/path' }, /^Invalid configuration: CORS_ORIGINS \(corsOrigins\) has "https:\/\/a\.example\.com\/path", which is not an origin/],
    [{ CORS_ORIGINS: '*' }, /^Invalid configuration: CORS_ORIGINS \(corsOrigins\) has "\*"/],
    [{ TRUST_PROXY: 'yes' }, /^Invalid configuration: TRUST_PROXY \(trustProxy\) must be true, a hop count, or comma-separated proxy addresses\/CIDRs; "yes" is none of them$/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /^Invalid configuration: TRUST_PROXY \(trustProxy\) .* "10\.0\.0\.0\/33" is none of them$/],
    [{ METRICS_PORT: '70000' }, /^Invalid configuration: METRICS_PORT \(metricsPort\) must be <= 65535$/]
  ]
  for (const [env, message] of bad) t.throws(() => loadConfig({ env }), message, JSON.stringify(env))
})

t.test('WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS: from APP_URL unless set; origins must belong to the RP ID', async (t) => {
  t.same(loadConfig({ env: { APP_URL: 'https://shop.example.com/store/' } }).webauthn, { rpId: 'shop.example.com', origins: ['https://shop.example.com'] })
  t.same(loadConfig({ env: { HOST: '127.0.0.1', PORT: '3000' } }).webauthn, { rpId: '127.0.0.1', origins: ['http://127.0.0.1:3000'] }, 'unset APP_URL: the base URL')
  t.same(loadConfig({ env: { APP_URL: 'https://shop.example.com', WEBAUTHN_RP_ID: 'example.com', WEBAUTHN_ORIGINS: 'https://shop.example.com, https://example.com' } }).webauthn,
    { rpId: 'example.com', origins: ['https://shop.example.com', 'https://example.com'] })
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ APP_URL: 'https://shop.example.com', WEBAUTHN_ORIGINS: 'https://evil.example.org' }, /^Invalid configuration: WEBAUTHN_ORIGINS \(webauthnOrigins\) has "https:\/\/evil\.example\.org", whose host is not WEBAUTHN_RP_ID \(shop\.example\.com\)/],
    [{ WEBAUTHN_ORIGINS: 'https://a.example.com/path' }, /^Invalid configuration: WEBAUTHN_ORIGINS \(webauthnOrigins\) has "https:\/\/a\.example\.com\/path", which is not an origin/],
    [{ WEBAUTHN_RP_ID: 'exa mple.com' }, /^Invalid configuration: WEBAUTHN_RP_ID \(webauthnRpId\)/]
  ]
  for (const [env, message] of bad) t.throws(() => loadConfig({ env }), message, JSON.stringify(env))
})

t.test('OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME: tracing off unless the endpoint is set', async (t) => {
  const off = loadConfig()
  t.equal(off.otelExporterOtlpEndpoint, undefined, 'unset by default: nothing traced')
  t.equal(off.otelServiceName, 'bookstore')
  const on = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_SERVICE_NAME: 'books-eu' } })
  t.equal(on.otelExporterOtlpEndpoint, 'http://jaeger:4318')
  t.equal(on.otelServiceName, 'books-eu')
  t.throws(() => loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' } }),
    { message: /^Invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT \(otelExporterOtlpEndpoint\) must match pattern/ })
  t.equal(loadConfig({ env: { OTEL_SERVICE_NAME: '' } }).otelServiceName, 'bookstore', 'empty, as every variable: unset')
  t.throws(() => loadConfig({ env: { OTEL_SERVICE_NAME: 'x'.repeat(256) } }), { message: /^Invalid configuration: OTEL_SERVICE_NAME \(otelServiceName\)/ })
})
