/**
 * Side-by-side benchmark in one run: GET /books through the cache versus the same app with
 * the cache bypassed (the baseline), plus sign-in latency. Loopback only, bounded in time.
 *   npm run bench
 */
import autocannon from 'autocannon'
import { loadConfig } from '../config/load'
import { buildApp } from '../src/build'

const DURATION_S = 8

async function start (bypassCache: boolean) {
  const config = loadConfig({ overrides: { databaseUrl: 'sqlite::memory:', logLevel: 'silent', nodeEnv: 'test' } })
  const fastify = buildApp(config)
  await fastify.ready()
  for (let i = 0; i < 200; i++) await fastify.books.create({ title: `Book ${i}`, author: `Author ${i % 17}`, total_pages: 100 + i })
  if (bypassCache) {
    const miss = async (): Promise<undefined> => undefined
    Object.assign(fastify.cache, { get: miss, set: async () => {} })
  }
  await fastify.listen({ host: '127.0.0.1', port: 0 })
  const address = fastify.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { fastify, url: `http://127.0.0.1:${port}` }
}

async function load (url: string) {
  const result = await autocannon({ url, connections: 20, duration: DURATION_S })
  return { rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx }
}

async function main (): Promise<void> {
  const cached = await start(false)
  const baseline = await start(true)
  const rows: Record<string, unknown> = {}
  for (const path of ['/books?limit=20', '/books?q=author%201&limit=20', '/books/42']) {
    rows[`${path} cached`] = await load(cached.url + path)
    rows[`${path} no cache`] = await load(baseline.url + path)
  }
  console.table(rows)

  await cached.fastify.users.signUp('bench@example.com', 'a long bench passphrase')
  const times: number[] = []
  for (let i = 0; i < 20; i++) {
    const t0 = process.hrtime.bigint()
    const res = await fetch(`${cached.url}/users/sign-in`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bench@example.com', password: 'a long bench passphrase' })
    })
    if (res.status !== 200) throw new Error(`sign-in answered ${res.status}`)
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  times.sort((a, b) => a - b)
  console.log(`sign-in latency over 20 sequential requests: median ${times[10]?.toFixed(1)} ms, max ${times[19]?.toFixed(1)} ms`)
  console.log(`memory: rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (both apps in this process)`)
  await cached.fastify.close()
  await baseline.fastify.close()
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
