import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import path from 'node:path'
import Ajv, { type ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'
import { parse as parseYaml } from 'yaml'
import { isBreachedPassword } from './breached-passwords'
import { ConfigSchema, SECRET_SETTINGS, type Config, type DatabaseTarget, type RedisNode, type RedisTarget, type Settings } from './schema'
import { projectRoot } from './paths'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Env = Record<string, string | undefined>

interface LoadOptions {
  /** Environment to read; server.ts passes process.env, tests pass nothing. */
  env?: Env
  /** Applied last: how tests configure the app without touching process.env. */
  overrides?: Partial<Settings>
  /** Applied first, beneath config/default.yml: a script's own defaults (npm run migrate waits less). */
  defaults?: Partial<Settings>
}

const properties = ConfigSchema.properties as Record<string, { env?: string, type?: string }>

function readYaml (file: string, label: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`${label}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  let parsed: unknown
  try {
    parsed = parseYaml(text)
  } catch (err) {
    throw new ConfigError(`${label}: ${file} is not valid YAML (${(err as Error).message.split('\n')[0]})`)
  }
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${label}: ${file} must hold a mapping of settings`)
  }
  return parsed as Record<string, unknown>
}

function fromEnv (env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, prop] of Object.entries(properties)) {
    const value = prop.env === undefined ? undefined : env[prop.env]
    // An empty variable means "not set", as shells and compose files commonly write it.
    if (value === undefined || value === '') continue
    // A list is comma-separated in the environment (JWT_PREVIOUS_SECRETS).
    out[key] = prop.type === 'array' ? value.split(',').map((item) => item.trim()).filter((item) => item !== '') : value
  }
  return out
}

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: false, strict: false })
addFormats(ajv)
const validate = ajv.compile<Settings>(ConfigSchema)

function settingName (instancePath: string, extra: Record<string, unknown>): string {
  const key = (instancePath.split('/')[1] ?? String(extra.additionalProperty ?? extra.missingProperty ?? ''))
  const env = properties[key]?.env
  return env === undefined ? key : `${env} (${key})`
}

/**
 * The first problem as the setting's name and what is wrong. A union of constants (LOG_LEVEL,
 * NODE_ENV) fails with one error per constant: they are gathered into the allowed values.
 */
function firstProblem (errors: ErrorObject[]): string {
  const first = errors[0]
  if (first === undefined) return 'configuration is invalid'
  const where = settingName(first.instancePath, first.params)
  if (first.keyword === 'additionalProperties') return `${where} is not a known setting`
  const allowed = first.keyword === 'enum'
    ? (first.params as { allowedValues: unknown[] }).allowedValues
    : errors.filter((e) => e.keyword === 'const' && e.instancePath === first.instancePath).map((e) => (e.params as { allowedValue: unknown }).allowedValue)
  if (allowed.length > 0) return `${where} must be one of ${allowed.join(', ')}`
  return `${where} ${first.message ?? 'is invalid'}`
}

/**
 * APP_URL without its trailing slash, or where this service listens: a wildcard address is
 * no address to put in a link, so it reads as localhost.
 */
function publicUrl ({ appUrl, host, port }: Settings): string {
  if (appUrl !== undefined) return appUrl.replace(/\/+$/, '')
  const name = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  return `http://${name}:${port}`
}

/** `sqlite:./data/x.db` → a path resolved against the working directory (or `:memory:`); `mysql://…` → the URL. */
function databaseTarget (url: string): DatabaseTarget {
  if (url.startsWith('mysql://')) return { kind: 'mysql', url }
  const file = url.slice('sqlite:'.length)
  return { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(file) }
}

/** `host:port` as the schema let it through; a port outside 1..65535 is the one thing left to refuse. */
function redisNodes (value: string, name: string): RedisNode[] {
  return list(value).map((item) => {
    const at = item.lastIndexOf(':')
    const host = item.slice(0, at).replace(/^\[(.*)\]$/, '$1')
    const port = Number(item.slice(at + 1))
    if (port < 1 || port > 65535) throw new ConfigError(`Invalid configuration: ${name} has ${JSON.stringify(item)}, whose port is not 1-65535`)
    return { host, port }
  })
}

/**
 * One of REDIS_URL, REDIS_SENTINELS (with REDIS_SENTINEL_NAME) or REDIS_CLUSTER_NODES: two
 * would leave it to chance which Redis holds the throttles, so start-up stops instead.
 */
function redisTarget (settings: Settings): RedisTarget | undefined {
  const { redisUrl, redisSentinels, redisSentinelName, redisClusterNodes, redisPassword, redisSentinelPassword } = settings
  const set = [
    redisUrl === undefined ? undefined : 'REDIS_URL',
    redisSentinels === undefined ? undefined : 'REDIS_SENTINELS',
    redisClusterNodes === undefined ? undefined : 'REDIS_CLUSTER_NODES'
  ].filter((name) => name !== undefined)
  if (set.length > 1) throw new ConfigError(`Invalid configuration: set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES (${set.join(' and ')} are set)`)
  if (redisSentinels !== undefined && redisSentinelName === undefined) {
    throw new ConfigError('Invalid configuration: REDIS_SENTINELS needs REDIS_SENTINEL_NAME (redisSentinelName), the name of the master the Sentinels monitor')
  }
  if (redisSentinels === undefined && (redisSentinelName !== undefined || redisSentinelPassword !== undefined)) {
    throw new ConfigError('Invalid configuration: REDIS_SENTINEL_NAME and REDIS_SENTINEL_PASSWORD are read only with REDIS_SENTINELS')
  }
  if (redisPassword !== undefined && redisSentinels === undefined && redisClusterNodes === undefined) {
    throw new ConfigError('Invalid configuration: REDIS_PASSWORD (redisPassword) is read only with REDIS_SENTINELS or REDIS_CLUSTER_NODES; REDIS_URL carries its own password')
  }
  const password = redisPassword === undefined ? {} : { password: redisPassword }
  if (redisUrl !== undefined) return { kind: 'single', url: redisUrl }
  if (redisSentinels !== undefined && redisSentinelName !== undefined) {
    return {
      kind: 'sentinel',
      sentinels: redisNodes(redisSentinels, 'REDIS_SENTINELS (redisSentinels)'),
      name: redisSentinelName,
      ...password,
      ...(redisSentinelPassword === undefined ? {} : { sentinelPassword: redisSentinelPassword })
    }
  }
  if (redisClusterNodes !== undefined) return { kind: 'cluster', nodes: redisNodes(redisClusterNodes, 'REDIS_CLUSTER_NODES (redisClusterNodes)'), ...password }
  return undefined
}

const list = (value: string | undefined): string[] =>
  value === undefined ? [] : value.split(',').map((item) => item.trim()).filter((item) => item !== '')

/** `https://app.example.com`, `http://localhost:5173`: a scheme and a host, nothing after. */
function allowedOrigins (value: string | undefined): string[] {
  const origins = list(value)
  for (const origin of origins) {
    let parsed: URL | undefined
    try { parsed = new URL(origin) } catch { parsed = undefined }
    if (parsed === undefined || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(`Invalid configuration: CORS_ORIGINS (corsOrigins) has ${JSON.stringify(origin)}, which is not an origin such as https://app.example.com`)
    }
  }
  return origins
}

/**
 * WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS, each defaulting to what APP_URL names. Every origin must
 * be the RP ID or a subdomain of it, or no browser would ever sign for it: refused at start-up.
 */
function webauthn ({ webauthnRpId, webauthnOrigins }: Settings, base: string): { rpId: string, origins: string[] } {
  const app = new URL(base)
  const rpId = (webauthnRpId ?? app.hostname).toLowerCase()
  const origins = webauthnOrigins === undefined ? [app.origin] : list(webauthnOrigins)
  for (const origin of origins) {
    let parsed: URL | undefined
    try { parsed = new URL(origin) } catch { parsed = undefined }
    if (parsed === undefined || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(`Invalid configuration: WEBAUTHN_ORIGINS (webauthnOrigins) has ${JSON.stringify(origin)}, which is not an origin such as https://app.example.com`)
    }
    if (parsed.hostname !== rpId && !parsed.hostname.endsWith(`.${rpId}`)) {
      throw new ConfigError(`Invalid configuration: WEBAUTHN_ORIGINS (webauthnOrigins) has ${JSON.stringify(origin)}, whose host is not WEBAUTHN_RP_ID (${rpId}) or a subdomain of it`)
    }
  }
  return { rpId, origins }
}

/** proxy-addr's names, an address, or an address/prefix. */
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])
function proxyAddress (item: string): boolean {
  if (PROXY_NAMES.has(item)) return true
  const [address = '', prefix, ...rest] = item.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))
}

function proxyTrust (value: string | undefined): boolean | number | string[] {
  if (value === undefined || value === 'false') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) return Number(value)
  const addresses = list(value)
  const bad = addresses.find((item) => !proxyAddress(item))
  if (bad !== undefined || addresses.length === 0) {
    throw new ConfigError(`Invalid configuration: TRUST_PROXY (trustProxy) must be true, a hop count, or comma-separated proxy addresses/CIDRs; ${JSON.stringify(bad ?? value)} is none of them`)
  }
  return addresses
}

/** `KEY=value` lines of a dotenv file: each value unquoted, and each comma-separated entry of it too. */
function dotenvValues (text: string): unknown[] {
  return text.split('\n')
    .map((line) => /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*(.*?)\s*$/.exec(line)?.[1])
    .filter((value) => value !== undefined)
    .map((value) => value.replace(/^(["'])(.*)\1$/, '$2'))
    .flatMap((value) => [value, ...value.split(',')])
}

/** The sample environment files the repository publishes (each ships in the image, Dockerfile). */
const SAMPLE_ENV_FILES = ['.env.example', 'deploy/mysql.env.example']

/** Every string in a parsed YAML document, however deep. */
const yamlValues = (value: unknown): unknown[] =>
  typeof value === 'object' && value !== null ? Object.values(value).flatMap(yamlValues) : [value]

/**
 * Every value the repository publishes: each one in config/default.yml and in the sample env files,
 * read from the files themselves, so a placeholder added to either is refused in production
 * without anyone remembering to list it here. The files ship with the image (Dockerfile); one
 * that cannot be read stops a production start rather than skip the check.
 */
export function publishedValues (): string[] {
  const yaml = readYaml(path.join(projectRoot, 'config', 'default.yml'), 'config/default.yml')
  const samples = SAMPLE_ENV_FILES.flatMap((file) => {
    try {
      return dotenvValues(readFileSync(path.join(projectRoot, file), 'utf8'))
    } catch (err) {
      throw new ConfigError(`Invalid configuration: cannot read ${file} to refuse its published secrets (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  })
  const values = [...yamlValues(yaml), ...samples]
    .filter((value): value is string => typeof value === 'string')
    .map((value) => value.trim())
    .filter((value) => value !== '')
    // A sample URL publishes its password too (DATABASE_URL=mysql://bookstore:change-me@...).
    .flatMap((value) => [value, urlParts(value).password ?? ''])
    .filter((value) => value !== '')
  return [...new Set(values)]
}

/**
 * A URL's host part (`db.example:3306`, `a:27017,b:27017`) and password, read by hand: a
 * MongoDB URL may list several hosts, which `new URL` refuses.
 */
export function urlParts (url: string): { host: string, password: string | undefined } {
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(url)?.[1] ?? ''
  const at = authority.lastIndexOf('@')
  const userinfo = at === -1 ? undefined : authority.slice(0, at)
  const colon = userinfo?.indexOf(':') ?? -1
  let password = colon === -1 ? undefined : userinfo?.slice(colon + 1)
  try { password = password === undefined ? undefined : decodeURIComponent(password) } catch { /* kept as written */ }
  return { host: authority.slice(at + 1), password }
}

type SecretSetting = typeof SECRET_SETTINGS[number]

/** What each secret-like setting holds that must not be published, and what to call it in an error. */
function credentials (config: Config): Array<{ key: SecretSetting, name: string, value: string }> {
  return SECRET_SETTINGS.flatMap((key) => {
    const value: unknown = config[key]
    const name = settingName(`/${key}`, {})
    const passwordOf = (url: string, what: string): Array<{ key: SecretSetting, name: string, value: string }> => {
      const { password } = urlParts(url)
      return password === undefined || password === '' ? [] : [{ key, name: `the password in ${what}`, value: password }]
    }
    if (Array.isArray(value)) {
      return value.flatMap((entry, i) => key.endsWith('Urls')
        ? passwordOf(String(entry), `${name} entry ${i + 1}`)
        : [{ key, name: `${name} entry ${i + 1}`, value: String(entry) }])
    }
    if (typeof value !== 'string') return []
    if (!key.endsWith('Url')) return [{ key, name, value }]
    return passwordOf(value, name)
  })
}

/** HS256 keys: at least as long as the hash. */
const MIN_BYTES: Partial<Record<SecretSetting, number>> = { jwtSecret: 32, jwtPreviousSecrets: 32 }

const REPLACED: Record<string, string> = {
  TOKEN_HOURS: 'Invalid configuration: TOKEN_HOURS (tokenHours) is no longer read; set ACCESS_TOKEN_MINUTES (accessTokenMinutes), the access-token lifetime in minutes, instead'
}

/** In production no secret-like setting may hold a published value; the JWT keys need 32 bytes everywhere. */
function checkSecrets (config: Config): void {
  const published = config.nodeEnv === 'production' ? new Set(publishedValues()) : new Set<string>()
  for (const { key, name, value } of credentials(config)) {
    const min = MIN_BYTES[key]
    if (published.has(value.trim())) {
      throw new ConfigError(`Invalid configuration: ${name} is a secret published in the repository (config/default.yml, .env.example or deploy/mysql.env.example), which production refuses; set a random secret${min === undefined ? '' : ` of at least ${min} bytes`}`)
    }
    if (min !== undefined && Buffer.byteLength(value, 'utf8') < min) {
      throw new ConfigError(`Invalid configuration: ${name} must be at least ${min} bytes`)
    }
  }
}

/**
 * Defaults, config/default.yml, then CONFIG_FILE, then the environment, then overrides; one schema
 * validates the result and the first problem becomes one line naming the setting.
 */
export function loadConfig ({ env = {}, overrides = {}, defaults = {} }: LoadOptions = {}): Config {
  const merged: Record<string, unknown> = {
    ...defaults,
    ...readYaml(path.join(projectRoot, 'config', 'default.yml'), 'config/default.yml')
  }
  const extraFile = env.CONFIG_FILE
  if (extraFile !== undefined && extraFile !== '') {
    Object.assign(merged, readYaml(path.resolve(extraFile), 'CONFIG_FILE'))
  }
  Object.assign(merged, fromEnv(env), overrides)

  if (env.TOKEN_HOURS !== undefined && env.TOKEN_HOURS !== '') throw new ConfigError(REPLACED.TOKEN_HOURS)
  if ('tokenHours' in merged) throw new ConfigError(REPLACED.TOKEN_HOURS)

  if (!validate(merged)) throw new ConfigError(`Invalid configuration: ${firstProblem(validate.errors ?? [])}`)
  const config: Config = {
    ...merged,
    database: databaseTarget(merged.databaseUrl),
    redis: redisTarget(merged),
    allowedOrigins: allowedOrigins(merged.corsOrigins),
    proxyTrust: proxyTrust(merged.trustProxy),
    publicUrl: publicUrl(merged),
    webauthn: webauthn(merged, publicUrl(merged))
  }

  checkSecrets(config)
  if (config.databaseReplicaUrls.length > 0 && config.database.kind !== 'mysql') {
    throw new ConfigError('Invalid configuration: DATABASE_REPLICA_URLS (databaseReplicaUrls) are read only with a mysql:// DATABASE_URL, the primary they replicate')
  }
  if ((config.adminEmail === undefined) !== (config.adminPassword === undefined)) {
    throw new ConfigError('Invalid configuration: ADMIN_EMAIL and ADMIN_PASSWORD must be set together')
  }
  // The schema holds it to sign-up's length; this is sign-up's other rule.
  if (config.adminPassword !== undefined && isBreachedPassword(config.adminPassword)) {
    throw new ConfigError('Invalid configuration: ADMIN_PASSWORD (adminPassword) is on the list of commonly breached passwords, which sign-up refuses; choose another')
  }
  return config
}
