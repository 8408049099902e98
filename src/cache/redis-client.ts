import { Cluster, Redis, type Callback, type ClusterOptions, type Command, type RedisOptions } from 'ioredis'
import type { FastifyBaseLogger } from 'fastify'
import type { RedisTarget } from '../../config/schema'
import type { Tracing } from '../tracing'

/** The shared client: one server or a master found through Sentinels (Redis), or a Cluster. */
export type RedisClient = Redis | Cluster

/**
 * ioredis' defaults suit a queue worker, not a cache in front of a database: they queue
 * commands while disconnected and retry each 20 times, so a GET stays pending long after
 * Redis died, and for ever while it is frozen. With these, every command fails at
 * once while the connection is down and after `commandTimeout` while Redis is frozen,
 * and the connection itself is retried for ever in the background.
 */
export const REDIS_CLIENT_OPTIONS = {
  // A command answers within this or rejects; callers fall back to the database. Short: a
  // healthy Redis answers in well under a millisecond, so 200 ms is only ever a frozen or
  // overloaded one, and it is what a read pays before the circuit breaker opens
  // (src/cache/breaker.ts: after three in a row no call waits on Redis at all).
  commandTimeout: 200,
  connectTimeout: 1000,
  // Disconnected: reject at once instead of queueing for the reconnect.
  enableOfflineQueue: false,
  // A command caught in flight by a dropped connection is retried once, then rejected...
  maxRetriesPerRequest: 1,
  // ...and never replayed after a reconnect: its caller has long given up on it.
  autoResendUnfulfilledCommands: false,
  enableReadyCheck: true,
  // A socket that a frozen Redis never closes is destroyed this long after we end it.
  disconnectTimeout: 500,
  // Reconnect for ever, backing off to 2 s; readiness reports the outage meanwhile.
  retryStrategy: (times: number) => Math.min(times * 200, 2000),
  // The owner opens the first connection (connect()), so it can wait for it and log.
  lazyConnect: true
} satisfies RedisOptions

/**
 * Through Sentinels: the same, and the Sentinels asked for the master's address on every
 * (re)connect. ioredis checks that the server it reaches is a master (ROLE), so after a
 * promotion the next connection goes to the new one. A master demoted while this client
 * stays connected (a manual failover, or a thawed old master the Sentinels made a replica)
 * answers writes with READONLY: that drops the connection, and the reconnect asks again.
 * ioredis' failoverDetector is not used: its Sentinel connections have no error listener, so
 * a Sentinel that goes away writes "Unhandled error event" to stderr past the logger.
 */
const SENTINEL_OPTIONS = {
  sentinelCommandTimeout: 500,
  sentinelRetryStrategy: (times: number) => Math.min(times * 100, 1000),
  // Sentinels learnt from the ones configured are used too, should those go away.
  updateSentinels: true,
  reconnectOnError: (err: Error) => err.message.startsWith('READONLY')
} satisfies RedisOptions

/**
 * A Cluster: every node's connection fails as a single client's does; the Cluster object
 * itself does not queue while it has no slot map either. The slot map is refreshed every
 * second, so a replica that took over a frozen master's slots (which answers no MOVED) is
 * found within about a second of the takeover rather than ioredis' 5 s default.
 */
const CLUSTER_OPTIONS = {
  redisOptions: (({ lazyConnect: _lazy, retryStrategy: _retry, ...node }) => node)(REDIS_CLIENT_OPTIONS),
  enableOfflineQueue: false,
  enableReadyCheck: true,
  lazyConnect: true,
  scaleReads: 'master',
  slotsRefreshInterval: 1000,
  slotsRefreshTimeout: 500,
  // MOVED/ASK during a resharding or takeover: follow a few, then fail like any other error.
  maxRedirections: 4,
  retryDelayOnFailover: 100,
  retryDelayOnClusterDown: 100,
  retryDelayOnTryAgain: 100,
  clusterRetryStrategy: (times: number) => Math.min(times * 200, 2000)
} satisfies ClusterOptions

/**
 * A master frozen (SIGSTOP, a hung VM) keeps its TCP connections open, so ioredis never
 * learns that Sentinel promoted another: every command times out for as long as the freeze
 * lasts. Through Sentinels, a probe each second that fails (or a connection that has not
 * become ready) this many times in a row drops the connection, and the reconnect asks the
 * Sentinels where the master is now. One server behind one address gains nothing from it.
 */
const SENTINEL_PROBE_MS = 1000
const SENTINEL_PROBE_FAILURES = 2

/** Clusters quit or disconnected for good: see ClosableCluster. */
const closingClusters = new WeakSet<Cluster>()

/**
 * A Cluster that lets its process exit once closed. ioredis clears its slot-refresh timer on
 * quit(), but a refresh in flight at that moment ends afterwards and its callback arms the
 * next round: a timer that refreshes an empty pool every slotsRefreshInterval for ever and
 * keeps the process alive (an instance that never exits after SIGTERM; a test file that
 * never ends). Once closing, a refresh's callbacks are dropped: nothing else waits on them.
 * (A WeakSet, not a field: a field is not yet set while ioredis' constructor runs.)
 */
export class ClosableCluster extends Cluster {
  override refreshSlotsCache (callback?: Callback<void>): void {
    super.refreshSlotsCache(callback === undefined ? undefined : (err) => { if (!closingClusters.has(this)) callback(err) })
  }

  override quit (callback?: Callback<'OK'>): Promise<'OK'> {
    closingClusters.add(this)
    return super.quit(callback)
  }

  override disconnect (reconnect = false): void {
    if (!reconnect) closingClusters.add(this)
    super.disconnect(reconnect)
  }
}

/** What the start-up wait names in its log lines: a host, never a password. */
export function redisAddress (target: RedisTarget): string {
  if (target.kind === 'single') return target.url
  const [first] = target.kind === 'sentinel' ? target.sentinels : target.nodes
  const host = first === undefined ? 'localhost' : first.host.includes(':') ? `[${first.host}]` : first.host
  return `redis://${host}:${first?.port ?? 6379}`
}

function newClient (target: RedisTarget): RedisClient {
  switch (target.kind) {
    case 'single':
      return new Redis(target.url, REDIS_CLIENT_OPTIONS)
    case 'sentinel':
      return new Redis({
        ...REDIS_CLIENT_OPTIONS,
        ...SENTINEL_OPTIONS,
        sentinels: target.sentinels,
        name: target.name,
        ...(target.password === undefined ? {} : { password: target.password }),
        ...(target.sentinelPassword === undefined ? {} : { sentinelPassword: target.sentinelPassword })
      })
    case 'cluster':
      return new ClosableCluster(target.nodes, {
        ...CLUSTER_OPTIONS,
        redisOptions: { ...CLUSTER_OPTIONS.redisOptions, ...(target.password === undefined ? {} : { password: target.password }) }
      })
  }
}

/**
 * See SENTINEL_PROBE_MS. Only a ready connection is probed and dropped: one being opened is
 * ioredis' own business (its ready check times out like any command against a frozen
 * server), and dropping it while the Sentinels are being asked makes ioredis give up for
 * good (status 'end'). Should it give up anyway (every Sentinel unreachable), it is started
 * again, as the single-server client retries for ever. Stopped by stop(), which the owner
 * calls before closing the client.
 */
function watchSentinelMaster (client: Redis, log: FastifyBaseLogger): () => void {
  let failures = 0
  let probing = false
  const timer = setInterval(() => {
    if (probing) return
    if (client.status === 'end') {
      log.warn('redis client gave up connecting through the sentinels; starting it again')
      client.connect().catch(() => {})
      return
    }
    if (client.status !== 'ready') {
      failures = 0
      return
    }
    probing = true
    void client.ping().then(() => true, () => false).then((ok) => {
      probing = false
      failures = ok ? 0 : failures + 1
      if (failures < SENTINEL_PROBE_FAILURES || client.status !== 'ready') return
      failures = 0
      log.warn('redis master not answering; reconnecting through the sentinels')
      client.disconnect(true)
    })
  }, SENTINEL_PROBE_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/** A dead Redis emits an error per reconnect attempt; log the first, then one per interval. */
const ERROR_LOG_INTERVAL_MS = 30_000

interface WatchedRedis {
  client: RedisClient
  /** The latest connection error: says more than the "Stream isn't writeable" a command gets. */
  lastError (): Error | undefined
  /** Stops the background checks; call before closing the client. */
  stop (): void
}

/**
 * A client with the options above whose 'error' events are always handled (an unhandled one
 * would crash the process) and logged without flooding: the first, then one per interval
 * with the count of those left out, and one line when the connection is back.
 */
export function createRedisClient (target: RedisTarget, log: FastifyBaseLogger): WatchedRedis {
  const client = newClient(target)
  let lastError: Error | undefined
  let lastLogged = 0
  let suppressed = 0
  let failing = false
  // A Cluster reports each node's connection errors as 'node error'.
  const onError = (err: Error): void => {
    lastError = err
    failing = true
    const now = Date.now()
    if (now - lastLogged < ERROR_LOG_INTERVAL_MS) {
      suppressed++
      return
    }
    log.warn({ err, suppressed }, 'redis connection error; reconnecting in the background')
    lastLogged = now
    suppressed = 0
  }
  client.on('error', onError)
  if (client instanceof Cluster) client.on('node error', onError)
  client.on('ready', () => {
    if (!failing) return
    failing = false
    lastLogged = 0
    log.info({ suppressed }, 'redis connection restored')
    suppressed = 0
  })
  const stop = target.kind === 'sentinel' && client instanceof Redis ? watchSentinelMaster(client, log) : () => {}
  return { client, lastError: () => lastError, stop }
}

/**
 * When tracing is on, every command this client sends (the cache's, the throttles', the rate
 * limiter's; a pipeline's one by one) is a span named by the command, as the database semantic
 * conventions describe Redis: never its arguments, which hold keys and values. The client's
 * sendCommand is the one door they all go through; off, the client is left as it is.
 */
export function traceRedisCommands (client: RedisClient, tracing: Tracing | undefined): void {
  if (tracing === undefined) return
  const send = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown
  const server = client instanceof Redis && client.options.host !== undefined
    ? { 'server.address': client.options.host, 'server.port': client.options.port ?? 6379 }
    : {}
  const sendCommand = (command: Command, ...rest: unknown[]): unknown => {
    const operation = command.name.toUpperCase()
    // The caller keeps command.promise (ioredis' own); the span's promise only ends the span.
    tracing.span(operation, { 'db.system': 'redis', 'db.system.name': 'redis', 'db.operation.name': operation, ...server }, async () => {
      send(command, ...rest)
      return await command.promise
    }, { client: true }).catch(() => undefined)
    return command.promise
  }
  client.sendCommand = sendCommand as typeof client.sendCommand
}
