/**
 * `npm run bench:reset`: does POST /users/password-reset take as long for an address with an
 * account as for one without? The built service (SQLite file, mail as .eml files) on core 0,
 * this client on core 1 (taskset, where there is one). Signs up --accounts accounts, then
 * sends --requests pairs of requests, one for an existing address and one for an unknown
 * address, interleaved in a random order within each pair, one at a time, --gap-ms apart (so
 * the background work one answer started is done before the next is timed, as a prober
 * spacing requests out would see it). Prints both medians, p90s and the ratio.
 *   npm run bench:reset [-- --requests 500 --accounts 20 --gap-ms 20]
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { median, option, pinLoadGenerator, postJson, startService } from './common'

const REQUESTS = option('requests', 500)
const ACCOUNTS = option('accounts', 20)
const GAP_MS = option('gap-ms', 20)
const WARM_UP = 50

pinLoadGenerator(__filename, process.argv.slice(2))

async function timedReset (url: string, email: string): Promise<number> {
  const started = performance.now()
  const res = await fetch(`${url}/users/password-reset`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email })
  })
  await res.arrayBuffer()
  const elapsed = performance.now() - started
  if (res.status !== 202) throw new Error(`password reset answered ${res.status}`)
  return elapsed
}

const percentile = (values: number[], p: number): number =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN

async function main (): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-reset-'))
  const server = await startService({
    LOG_LEVEL: 'warn',
    DATABASE_URL: `sqlite:${path.join(dir, 'bench.db')}`,
    MAIL_DIR: path.join(dir, 'mail'),
    AUTH_RATE_LIMIT: '100000000'
  })
  try {
    const existing: string[] = []
    for (let i = 0; i < ACCOUNTS; i++) {
      const email = `bench-reset-${i}-${randomUUID()}@example.com`
      await postJson(`${server.url}/users`, { email, password: 'a long benchmark passphrase' })
      existing.push(email)
    }
    const unknown = (): string => `nobody-${randomUUID()}@example.com`
    for (let i = 0; i < WARM_UP; i++) {
      await timedReset(server.url, existing[i % existing.length] ?? '')
      await timedReset(server.url, unknown())
    }
    const known: number[] = []
    const absent: number[] = []
    for (let i = 0; i < REQUESTS; i++) {
      const pair: Array<[number[], string]> = [[known, existing[i % existing.length] ?? ''], [absent, unknown()]]
      if (Math.random() < 0.5) pair.reverse()
      for (const [into, email] of pair) {
        into.push(await timedReset(server.url, email))
        await sleep(GAP_MS)
      }
    }
    const ms = (v: number): string => `${v.toFixed(3)} ms`
    console.log(`POST /users/password-reset, ${REQUESTS} requests each, interleaved, ${GAP_MS} ms apart, ${ACCOUNTS} accounts`)
    console.log(`  existing address: median ${ms(median(known))}, p90 ${ms(percentile(known, 0.9))}`)
    console.log(`  unknown address:  median ${ms(median(absent))}, p90 ${ms(percentile(absent, 0.9))}`)
    console.log(`  ratio of medians (existing / unknown): ${(median(known) / median(absent)).toFixed(3)}`)
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
