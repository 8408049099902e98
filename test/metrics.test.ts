import t from 'tap'
import { build, errorBody, scrapeMetrics as scrape } from './support/app'

/** The sample lines of one metric, as `name{labels} value` strings. */
const samples = (text: string, name: string): string[] => text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))

t.test('with METRICS_PORT', async (t) => {
  const app = await build(t, { metricsPort: 9464 })

  t.test('is not served on the API port', async (t) => {
    const res = await app.inject({ url: '/metrics' })
    t.equal(res.statusCode, 404)
    t.same(res.json(), errorBody(404, 'ROUTE_NOT_FOUND', 'Not Found', 'Route GET /metrics not found'))
  })

  t.test('request durations are labelled with the route pattern, never the raw URL', async (t) => {
    await app.inject({ url: '/books/123456' })
    await app.inject({ url: '/books/123457' })
    await app.inject({ url: '/books?limit=3' })
    await app.inject({ url: '/no/such/thing' })
    const res = await app.metricsServer!.inject({ url: '/metrics' })
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
    const text = res.body
    t.match(text, /# TYPE http_request_duration_seconds histogram/)
    t.ok(samples(text, 'http_request_duration_seconds_count').includes('http_request_duration_seconds_count{method="GET",route="/books/:id",status_code="404"} 2'),
      'both lookups in one series of the pattern')
    t.ok(samples(text, 'http_request_duration_seconds_count').includes('http_request_duration_seconds_count{method="GET",route="/books",status_code="200"} 1'))
    t.ok(samples(text, 'http_request_duration_seconds_bucket').includes('http_request_duration_seconds_bucket{method="GET",route="/books/:id",status_code="404",le="+Inf"} 2'))
    t.ok(samples(text, 'http_request_duration_seconds_count').some((line) => line.startsWith('http_request_duration_seconds_count{method="GET",route="(unmatched)",status_code="404"}')), 'an unmatched URL under one label')
    t.notMatch(text, /123456|no\/such|limit=/, 'no raw URL anywhere')
  })

  t.test('cache hits, misses and errors come from the cache layer', async (t) => {
    const count = async (result: string): Promise<number> => {
      const line = samples(await scrape(app), 'bookstore_cache_requests_total').find((l) => l.includes(`result="${result}"`))
      return Number(line?.split(' ')[1])
    }
    const before = { hit: await count('hit'), miss: await count('miss'), error: await count('error') }
    await app.inject({ url: '/books?limit=7' })
    t.equal(await count('miss'), before.miss + 1, 'a first read misses')
    await app.inject({ url: '/books?limit=7' })
    t.equal(await count('hit'), before.hit + 1, 'the same read again hits')
    const read = app.cache.readGeneration
    Object.assign(app.cache, { readGeneration: async () => { throw new Error('cache down') } })
    const res = await app.inject({ url: '/books?limit=7' })
    Object.assign(app.cache, { readGeneration: read })
    t.equal(res.statusCode, 200, 'the read still answers')
    t.equal(await count('error'), before.error + 1, 'a failed cache read is an error')
    t.match(await scrape(app), /# TYPE bookstore_cache_requests_total counter/)
  })

  t.test('backends and the process defaults', async (t) => {
    const text = await scrape(app)
    for (const service of app.stores.backends.map((b) => b.name).concat(app.cache.name)) {
      t.ok(samples(text, 'bookstore_backend_up').includes(`bookstore_backend_up{service="${service}"} 1`), `${service} is up`)
    }
    for (const name of ['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'process_resident_memory_bytes']) {
      t.ok(samples(text, name).length > 0, `${name} is there`)
    }
  })
})

t.test('two apps in one process keep their own registries', async (t) => {
  const a = await build(t, { metricsPort: 9464 })
  const b = await build(t, { metricsPort: 9465 })
  await a.inject({ url: '/health/live' })
  await a.inject({ url: '/health/live' })
  const line = (text: string) => samples(text, 'http_request_duration_seconds_count').find((l) => l.includes('route="/health/live"'))
  t.equal(line(await scrape(a)), 'http_request_duration_seconds_count{method="GET",route="/health/live",status_code="200"} 2')
  t.equal(line(await scrape(b)), undefined, 'B counted none of A’s requests')
})

t.test('the second listener answers on its own port, as src/server.ts starts it', async (t) => {
  const app = await build(t, { metricsPort: 0 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  await app.metricsServer!.listen({ host: app.config.host, port: app.config.metricsPort ?? 0 })
  const api = app.server.address()
  const apiPort = typeof api === 'object' && api !== null ? api.port : 0
  t.equal((await fetch(`http://127.0.0.1:${apiPort}/metrics`)).status, 404, 'not on the API port')
  const address = app.metricsServer!.server.address()
  t.ok(typeof address === 'object' && address !== null && address.address === '127.0.0.1', 'on HOST')
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(res.status, 200)
  t.match(await res.text(), /http_request_duration_seconds/)
})

t.test('without METRICS_PORT there is no registry and no listener', async (t) => {
  const app = await build(t)
  t.equal(app.metrics, undefined)
  t.equal(app.metricsServer, undefined)
})
