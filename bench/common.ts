/** What the benchmarks share: core pinning, free ports, medians. */
import { spawnSync } from 'node:child_process'

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

export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
