import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import path from 'node:path'
import Ajv from 'ajv'
import addFormats from 'ajv-formats'
import { parse as parseYaml } from 'yaml'
import { isBreachedPassword } from './breached-passwords'
import { ConfigSchema, type Config, type DatabaseTarget, type Settings } from './schema'
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

/** `sqlite:./data/x.db` → a path resolved against the working directory (or `:memory:`); `mysql://…` → the URL. */
function databaseTarget (url: string): DatabaseTarget {
  if (url.startsWith('mysql://')) return { kind: 'mysql', url }
  const file = url.slice('sqlite:'.length)
  return { kind: 'sqlite', file: file === ':memory:' ? file : path.resolve(file) }
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

/**
 * Every secret the repository publishes: the sample in config/default.yml and each `*SECRET*`
 * value in .env.example, read from the files themselves, so a placeholder added to either is
 * refused in production without anyone remembering to list it here. The files ship with the
 * image (Dockerfile); one that cannot be read stops a production start rather than skip the check.
 */
export function publishedSecrets (): string[] {
  const yaml = readYaml(path.join(projectRoot, 'config', 'default.yml'), 'config/default.yml')
  const fromYaml = [yaml.jwtSecret, ...(Array.isArray(yaml.jwtPreviousSecrets) ? yaml.jwtPreviousSecrets : [])]
  let example: string
  try {
    example = readFileSync(path.join(projectRoot, '.env.example'), 'utf8')
  } catch (err) {
    throw new ConfigError(`Invalid configuration: cannot read .env.example to refuse its published secrets (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  const fromExample = example.split('\n')
    .map((line) => /^\s*(?:export\s+)?([A-Z0-9_]*SECRET[A-Z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line))
    .flatMap((m) => (m === null ? [] : (m[2] ?? '').replace(/^(["'])(.*)\1$/, '$2').split(',')))
  return [...fromYaml, ...fromExample].filter((value): value is string => typeof value === 'string' && value.trim() !== '')
    .map((value) => value.trim())
}

const REPLACED: Record<string, string> = {
  TOKEN_HOURS: 'Invalid configuration: TOKEN_HOURS (tokenHours) is no longer read; set ACCESS_TOKEN_MINUTES (accessTokenMinutes), the access-token lifetime in minutes, instead'
}

/** The secrets each need 32 bytes and, in production, must not be published ones. */
function checkSecrets (config: Config): void {
  const secrets: Array<[string, string]> = [
    ['JWT_SECRET (jwtSecret)', config.jwtSecret],
    ...config.jwtPreviousSecrets.map((secret, i): [string, string] => [`JWT_PREVIOUS_SECRETS (jwtPreviousSecrets) entry ${i + 1}`, secret])
  ]
  const published = config.nodeEnv === 'production' ? new Set(publishedSecrets()) : new Set<string>()
  for (const [name, secret] of secrets) {
    if (published.has(secret)) {
      throw new ConfigError(`Invalid configuration: ${name} is a secret published in the repository (config/default.yml or .env.example), which production refuses; set a random secret of at least 32 bytes`)
    }
    if (Buffer.byteLength(secret, 'utf8') < 32) {
      throw new ConfigError(`Invalid configuration: ${name} must be at least 32 bytes`)
    }
  }
}

/**
 * config/default.yml, then CONFIG_FILE, then the environment, then overrides; one schema
 * validates the result and the first problem becomes one line naming the setting.
 */
export function loadConfig ({ env = {}, overrides = {} }: LoadOptions = {}): Config {
  const merged: Record<string, unknown> = {
    ...readYaml(path.join(projectRoot, 'config', 'default.yml'), 'config/default.yml')
  }
  const extraFile = env.CONFIG_FILE
  if (extraFile !== undefined && extraFile !== '') {
    Object.assign(merged, readYaml(path.resolve(extraFile), 'CONFIG_FILE'))
  }
  Object.assign(merged, fromEnv(env), overrides)

  if (env.TOKEN_HOURS !== undefined && env.TOKEN_HOURS !== '') throw new ConfigError(REPLACED.TOKEN_HOURS)
  if ('tokenHours' in merged) throw new ConfigError(REPLACED.TOKEN_HOURS)

  if (!validate(merged)) {
    const first = validate.errors?.[0]
    const where = first === undefined ? 'configuration' : settingName(first.instancePath, first.params)
    const what = first?.keyword === 'additionalProperties' ? 'is not a known setting' : (first?.message ?? 'is invalid')
    throw new ConfigError(`Invalid configuration: ${where} ${what}`)
  }
  const config: Config = {
    ...merged,
    database: databaseTarget(merged.databaseUrl),
    allowedOrigins: allowedOrigins(merged.corsOrigins),
    proxyTrust: proxyTrust(merged.trustProxy)
  }

  checkSecrets(config)
  if ((config.adminEmail === undefined) !== (config.adminPassword === undefined)) {
    throw new ConfigError('Invalid configuration: ADMIN_EMAIL and ADMIN_PASSWORD must be set together')
  }
  // The schema holds it to sign-up's length; this is sign-up's other rule.
  if (config.adminPassword !== undefined && isBreachedPassword(config.adminPassword)) {
    throw new ConfigError('Invalid configuration: ADMIN_PASSWORD (adminPassword) is on the list of commonly breached passwords, which sign-up refuses; choose another')
  }
  return config
}
