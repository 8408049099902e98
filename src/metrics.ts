import { collectDefaultMetrics, Gauge, Registry, type Metric } from 'prom-client'

/** Latency buckets, in seconds: a cached read takes well under a millisecond, a sign-in ~50 ms. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

interface Value { labels: Record<string, string | number>, value: number, metricName?: string }

/** What prom-client's registry reads from a metric: a name, a help line, a type and `get()`. */
function collected (name: string, help: string, type: 'counter' | 'histogram', values: () => Value[]): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    async get () { return { name, help, type, aggregator: 'sum', values: values() } },
    reset () {}
  }
  return metric as unknown as Metric
}

/** One (method, route, status) series of the duration histogram: plain numbers, updated in place. */
class Series {
  readonly buckets = new Float64Array(DURATION_BUCKETS.length)
  sum = 0
  count = 0
  constructor (readonly method: string, readonly route: string, readonly statusCode: number) {}
  observe (seconds: number): void {
    this.sum += seconds
    this.count += 1
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= (DURATION_BUCKETS[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1
        return
      }
    }
  }
}

/** A route's series by status code, made on first use; the route's pattern is fixed at registration. */
export class RouteSeries {
  private readonly byStatus = new Map<number, Series>()
  constructor (private readonly all: Series[], readonly method: string, readonly route: string) {}
  observe (statusCode: number, seconds: number): void {
    let series = this.byStatus.get(statusCode)
    if (series === undefined) {
      series = new Series(this.method, this.route, statusCode)
      this.byStatus.set(statusCode, series)
      this.all.push(series)
    }
    series.observe(seconds)
  }
}

type CacheResult = 'hit' | 'miss' | 'error'
/** Called by the book service at each cache read (src/services/books.ts). */
type CacheObserver = (result: CacheResult) => void

/**
 * One registry per app, so several apps in one process (tests, the benchmark) never share or
 * collide. Observations on the request path only add to numbers that already exist: prom-client's
 * own Histogram and Counter hash a label object on every observe, which allocates per request.
 */
export function createMetrics ({ backends, replicas = () => [] }: {
  backends: () => Promise<Record<string, 'up' | 'down'>>
  /** With DATABASE_REPLICA_URLS: each replica's state, and the primary's reads (src/stores/mysql/replicas.ts). */
  replicas?: () => Array<{ name: string, usable: boolean, lagSeconds: number | undefined, reads: number }>
}) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })

  const series: Series[] = []
  const routes = new Map<string, RouteSeries>()
  registry.registerMetric(collected('http_request_duration_seconds', 'HTTP request duration in seconds, by method, route pattern and status code', 'histogram', () =>
    series.flatMap((s) => {
      const labels = { method: s.method, route: s.route, status_code: s.statusCode }
      let cumulative = 0
      const buckets = DURATION_BUCKETS.map((le, i) => {
        cumulative += s.buckets[i] as number
        return { labels: { ...labels, le }, value: cumulative, metricName: 'http_request_duration_seconds_bucket' }
      })
      return [
        ...buckets,
        { labels: { ...labels, le: '+Inf' }, value: s.count, metricName: 'http_request_duration_seconds_bucket' },
        { labels, value: s.sum, metricName: 'http_request_duration_seconds_sum' },
        { labels, value: s.count, metricName: 'http_request_duration_seconds_count' }
      ]
    })))

  const cache = { hit: 0, miss: 0, error: 0 }
  registry.registerMetric(collected('bookstore_cache_requests_total', 'Book cache reads by result: hit, miss, error (the cache failed or was slow)', 'counter', () =>
    (['hit', 'miss', 'error'] as const).map((result) => ({ labels: { result }, value: cache[result] }))))

  // Not a prom-client Gauge collected on the request path: readiness is asked at scrape time only.
  new Gauge({
    name: 'bookstore_backend_up',
    help: 'Whether each configured backing service answers (1) or not (0), asked at scrape time',
    labelNames: ['service'],
    registers: [registry],
    async collect () {
      for (const [service, state] of Object.entries(await backends())) this.set({ service }, state === 'up' ? 1 : 0)
    }
  })

  // Read replicas: asked at scrape time too, and absent without them.
  registry.registerMetric(collected('bookstore_replica_reads_total', 'Routed reads of books and users by the server that answered: replica-N or primary', 'counter', () =>
    replicas().map((r) => ({ labels: { server: r.name }, value: r.reads }))))
  new Gauge({
    name: 'bookstore_replica_usable',
    help: 'Whether each read replica is used now (1) or skipped (0): not answering, or behind by more than REPLICA_MAX_LAG_SECONDS',
    labelNames: ['replica'],
    registers: [registry],
    collect () {
      for (const r of replicas()) if (r.name !== 'primary') this.set({ replica: r.name }, r.usable ? 1 : 0)
    }
  })
  new Gauge({
    name: 'bookstore_replica_lag_seconds',
    help: 'How old each read replica\'s data may be (the bound its last position proves; absent until one is proven)',
    labelNames: ['replica'],
    registers: [registry],
    collect () {
      this.reset()
      for (const r of replicas()) if (r.name !== 'primary' && r.lagSeconds !== undefined) this.set({ replica: r.name }, r.lagSeconds)
    }
  })

  return {
    registry,
    /** The series of one route and method, made once when the route is registered. */
    route (method: string, route: string): RouteSeries {
      const key = `${method} ${route}`
      let found = routes.get(key)
      if (found === undefined) {
        found = new RouteSeries(series, method, route)
        routes.set(key, found)
      }
      return found
    },
    cacheObserver: ((result) => { cache[result] += 1 }) as CacheObserver
  }
}

export type Metrics = ReturnType<typeof createMetrics>
