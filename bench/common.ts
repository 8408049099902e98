/** What the benchmarks share: core pinning, free ports, medians. */
import { spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'

export { freePort } from '../test/throwaway'

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

/**
 * The Node.js flags `npm start` (and the Dockerfile's CMD) give the service, read from
 * package.json so the benchmarks run what production runs.
 */
export function serviceNodeFlags (root: string): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  const words = (scripts.start ?? '').split(/\s+/)
  return words.slice(1, words.indexOf('dist/src/server.js')).filter((word) => word.startsWith('--'))
}

/** The project's root, from dist-test/bench/. */
export const ROOT = path.resolve(__dirname, '..', '..')

/** A numeric `--name value` of this script's arguments, or the fallback. */
export function option (name: string, fallback: number, args: string[] = process.argv.slice(2)): number {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}

/** Resolves once `url` answers 2xx; fails if `child` (the server) exits first or 30 s pass. */
export async function waitForHttp (url: string, child?: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`)
    if (await fetch(url).then((res) => res.ok, () => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer`)
}

/** The service's command line as `npm start` runs it (its Node flags included), pinned like every server. */
export const serviceCommand = (): [string, string[]] =>
  onServerCore(process.execPath, [...serviceNodeFlags(ROOT), path.join(ROOT, 'dist', 'src', 'server.js')])

export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
