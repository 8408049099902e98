/** What the benchmarks share: core pinning, the service as they start it, the admin, medians. */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startServer, type Server, type ServerOptions } from '../scripts/lib/server'

export const HAS_TASKSET = spawnSync('taskset', ['--version']).status === 0

/**
 * The calling script generates the load: re-run it pinned to core 1, off the servers' core 0,
 * and exit with its status. Returns only in the pinned process (or where there is no taskset).
 */
export function pinLoadGenerator (script: string, args: string[]): void {
  if (!HAS_TASKSET || process.env.BENCH_PINNED === '1') return
  const again = spawnSync('taskset', ['-c', '1', process.execPath, script, ...args], { stdio: 'inherit', env: { ...process.env, BENCH_PINNED: '1' } })
  process.exit(again.status ?? 1)
}

/** A server's command line, pinned to core 0 where taskset exists. */
export const onServerCore = (command: string, argv: string[]): [string, string[]] =>
  HAS_TASKSET ? ['taskset', ['-c', '0', command, ...argv]] : [command, argv]

/** A numeric `--name value` of this script's arguments, or the fallback. */
export function option (name: string, fallback: number, args: string[] = process.argv.slice(2)): number {
  const value = textOption(name, args)
  return value === undefined ? fallback : Number(value)
}

/** The `--name value` of this script's arguments, if given. */
export function textOption (name: string, args: string[] = process.argv.slice(2)): string | undefined {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}

export const ADMIN = { email: 'bench-admin@example.com', password: 'a long benchmark passphrase' }

/**
 * The service as production runs it (NODE_ENV=production, so a fresh JWT_SECRET), with the
 * bootstrap Admin, pinned to core 0; `env` adds to or overrides that.
 */
export async function startService (env: NodeJS.ProcessEnv, options: ServerOptions = {}): Promise<Server> {
  return startServer({
    ...options,
    wrap: onServerCore,
    env: { NODE_ENV: 'production', JWT_SECRET: randomBytes(32).toString('base64'), ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, ...env }
  })
}

/** A 2xx answer's JSON; anything else throws with the status and body. */
export async function json<T> (url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init)
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`)
  return res.json() as Promise<T>
}

/** A POST of `body` as JSON, with the bearer token when given. */
export const postJson = <T>(url: string, body: unknown, token?: string): Promise<T> => json<T>(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
  body: JSON.stringify(body)
})

/** The Admin's access token. */
export const signIn = async (url: string): Promise<string> => (await postJson<{ token: string }>(`${url}/users/sign-in`, ADMIN)).token

/** `count` search tokens of one width, so none is a substring of another: each finds one book. */
export const oneHitTokens = (count: number): string[] => Array.from({ length: count }, (_, i) => `tok${i.toString(36).padStart(4, '0')}x`)

/**
 * Picks each request's path at random from the file WRK_PATHS names, one per line, so a
 * list of 1,000 one-hit searches is spread over the run as autocannon's setupRequest did.
 */
const WRK_SCRIPT = `local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
request = function () return wrk.format(nil, paths[math.random(#paths)]) end
`

/**
 * Requests per second over `seconds`, each to one of `paths` at random, from wrk (Debian's
 * package): one thread, in C, so a bare Fastify on its own core is not capped by the load
 * generator as autocannon's JavaScript capped it (~60k req/s). Any error or 4xx/5xx throws.
 */
export async function throughput (base: string, paths: string[], seconds: number, connections: number, headers: Record<string, string> = {}): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-wrk-'))
  try {
    const script = path.join(dir, 'paths.lua')
    const list = path.join(dir, 'paths.txt')
    writeFileSync(script, WRK_SCRIPT)
    writeFileSync(list, paths.join('\n') + '\n')
    const args = ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', '-s', script,
      ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]), base]
    const run = spawnSync('wrk', args, { encoding: 'utf8', env: { ...process.env, WRK_PATHS: list } })
    if (run.error !== undefined) throw new Error(`wrk could not run (${run.error.message}): apt-get install wrk`)
    if (run.status !== 0) throw new Error(`wrk exited with ${run.status}: ${run.stderr}`)
    const out = run.stdout
    const failed = [/Non-2xx or 3xx responses: (\d+)/, /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/]
      .flatMap((re) => (re.exec(out)?.slice(1) ?? []).map(Number)).reduce((a, b) => a + b, 0)
    if (failed > 0) throw new Error(`${base}${paths[0] ?? ''}: ${failed} failed requests\n${out}`)
    const rate = /Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]
    if (rate === undefined) throw new Error(`wrk printed no rate:\n${out}`)
    return Number(rate)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
