import { AsyncLocalStorage } from 'node:async_hooks'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import path from 'node:path'
import fp from 'fastify-plugin'
import Fastify, { type FastifyInstance } from 'fastify'
import { MongoClient } from 'mongodb'
import pino from 'pino'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import type { Settings } from '../../config/schema'
import app from '../../src/app'
import { buildApp } from '../../src/build'
import { traceRedisCommands } from '../../src/cache/redis-client'
import { serverOptions } from '../../src/http/server-options'
import { tracedTransport, type MailTransport } from '../../src/mail/transport'
import { createMailWorker } from '../../src/mail/worker'
import { createPasswordHasher } from '../../src/services/passwords'
import { tracedCollection } from '../../src/stores/mongodb/reviews'
import { tracedExecutor, type SqlExecutor } from '../../src/stores/sql/dialect'
import { traced } from '../../src/tracing'
import { ADMIN, bearer, build, logLines, SAMPLE_BOOK, signIn, skipSuite, testConfig, uniqueEmail } from '../support/app'
import { throwaway } from '../../scripts/lib/throwaway'
import { freePort, scratchMysql, type Throwaway } from '../support/servers'

/**
 * Tracing, end to end against a real collector: Jaeger all-in-one (scripts/jaeger.sh builds
 * it once) on free loopback ports, spans read back through its query API. And the other
 * half of the promise: with OTEL_EXPORTER_OTLP_ENDPOINT unset nothing of OpenTelemetry is
 * loaded and every seam keeps its own functions. That part runs first: a traced app in the
 * same process would load the modules.
 */

/**
 * The SDK, the exporter, @fastify/otel and our own src/tracing-sdk.ts. Not @opentelemetry/api:
 * prom-client requires it whatever we do (for exemplars), and it is a no-op until a provider
 * is registered.
 */
const OTEL_MODULE = /node_modules[\\/](@opentelemetry[\\/](?!api[\\/])|@fastify[\\/]otel[\\/])|[\\/]src[\\/]tracing-sdk\.[jt]s$/
const otelModulesLoaded = (): string[] => Object.keys(require.cache).filter((file) => OTEL_MODULE.test(file))

t.test('unset: no OpenTelemetry module loaded, every wrapped seam is the original', async (t) => {
  const fastify = await build(t)
  t.equal(fastify.tracing, undefined)
  t.equal((await fastify.inject({ url: '/books' })).statusCode, 200)
  t.equal((await fastify.inject({ method: 'POST', url: '/users/sign-in', payload: { email: ADMIN.email, password: ADMIN.password } })).statusCode, 200)
  t.same(otelModulesLoaded(), [], 'after start-up, a read and a sign-in, nothing of OpenTelemetry is in require.cache')

  const fn = async (): Promise<number> => 1
  t.equal(traced(undefined, fn, () => ({ name: 'x', attributes: {} })), fn, 'traced() hands back the function')
  const exec = {} as SqlExecutor
  t.equal(tracedExecutor(exec, 'sqlite', undefined), exec, 'the SQL executor')
  const transport = { name: 'files' } as MailTransport
  t.equal(tracedTransport(transport, undefined), transport, 'the mail transport')
  const collection = { collectionName: 'reviews' } as unknown as Parameters<typeof tracedCollection>[0]
  t.equal(tracedCollection(collection, undefined), collection, 'the MongoDB collection')
  const redis = new Redis({ lazyConnect: true })
  traceRedisCommands(redis, undefined)
  t.equal(redis.sendCommand, Redis.prototype.sendCommand, "the Redis client's sendCommand")
  redis.disconnect()
  const hasher = createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 })
  t.equal(hasher.hash.name, 'hash', "the hasher's own methods")
  t.equal(hasher.verify.name, 'verify')
  t.same(otelModulesLoaded(), [], 'still none')
})

t.test('a collector that is down or frozen: requests answered as ever, close() within the export timeout', async (t) => {
  const frozen = createServer(() => {}).listen(0, '127.0.0.1')
  await once(frozen, 'listening')
  t.teardown(() => { frozen.close() })
  const address = frozen.address()
  const frozenPort = typeof address === 'object' && address !== null ? address.port : 0
  for (const [what, endpoint] of [['refusing', `http://127.0.0.1:${await freePort()}`], ['frozen', `http://127.0.0.1:${frozenPort}`]] as const) {
    const fastify = buildApp(testConfig({ otelExporterOtlpEndpoint: endpoint }))
    await fastify.ready()
    t.equal((await fastify.inject({ url: '/books' })).statusCode, 200, `${what}: a read answers`)
    const started = Date.now()
    await fastify.close()
    const ms = Date.now() - started
    t.ok(ms < 3000, `${what}: closed in ${ms} ms, the batch dropped`)
  }
})

t.test("the mail worker's polls run outside the request that nudged it (else they would join its trace for good)", async (t) => {
  // The context tracing follows is AsyncLocalStorage's; a store of our own stands in for a span.
  const requestContext = new AsyncLocalStorage<string>()
  const seen: Array<string | undefined> = []
  const outbox = {
    async claim () { seen.push(requestContext.getStore()); return [] },
    async remove () {},
    async retryLater () {}
  }
  const worker = createMailWorker({ outbox, transport: { name: 'files', async send () {}, close () {} }, log: pino({ level: 'silent' }), pollMs: 50 })
  worker.start()
  t.teardown(() => worker.stop())
  await sleep(20)
  requestContext.run('sign-up request', () => { worker.nudge() })
  await sleep(300)
  const nudged = seen.indexOf('sign-up request')
  t.ok(nudged >= 0, 'the nudged round runs in the request (its mail joins that trace)')
  t.ok(seen.length - nudged > 3, `polls went on after it (${seen.length - nudged - 1})`)
  t.same(seen.slice(nudged + 1).filter((s) => s !== undefined), [], 'none of the later polls in the request')
})

const JAEGER_VERSION = 'v1.75.0'
const jaegerBin = process.env.JAEGER_BIN ?? path.join(process.env.BOOKSTORE_TOOLS ?? '/var/tmp/bookstore-tools', `jaeger-${JAEGER_VERSION}`, 'jaeger')

interface Jaeger extends Throwaway { otlpUrl: string, queryUrl: string }

/** A private Jaeger, every port of its own on loopback, spans kept in memory. */
async function throwawayJaeger (): Promise<Jaeger> {
  const [otlp, grpc, query, queryGrpc, admin, collectorHttp, collectorGrpc] = await Promise.all(Array.from({ length: 7 }, freePort))
  const at = (port: number | undefined): string => `127.0.0.1:${port ?? 0}`
  const server = throwaway(otlp ?? 0, `http://${at(otlp)}`, jaegerBin, [
    '--collector.otlp.enabled=true',
    `--collector.otlp.http.host-port=${at(otlp)}`,
    `--collector.otlp.grpc.host-port=${at(grpc)}`,
    `--query.http-server.host-port=${at(query)}`,
    `--query.grpc-server.host-port=${at(queryGrpc)}`,
    `--admin.http.host-port=${at(admin)}`,
    `--collector.http-server.host-port=${at(collectorHttp)}`,
    `--collector.grpc-server.host-port=${at(collectorGrpc)}`,
    '--memory.max-traces=10000'
  ])
  await server.start()
  const queryUrl = `http://${at(query)}`
  // The OTLP port opens first; wait for the query API too.
  for (const until = Date.now() + 30_000; !(await fetch(`${queryUrl}/api/services`).then((r) => r.ok, () => false));) {
    if (Date.now() > until) throw new Error(`jaeger query API did not answer on ${queryUrl}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { ...server, otlpUrl: `http://${at(otlp)}`, queryUrl }
}

interface JaegerSpan {
  traceID: string
  spanID: string
  operationName: string
  references: Array<{ refType: string, spanID: string, traceID: string }>
  tags: Array<{ key: string, value: unknown }>
  processID: string
}
interface JaegerTrace { traceID: string, spans: JaegerSpan[], processes: Record<string, { serviceName: string }> }

/** A trace as Jaeger's query API answers it, once it holds at least `minSpans` spans. */
async function readTrace (jaeger: Jaeger, traceId: string, minSpans = 1): Promise<JaegerTrace> {
  for (const until = Date.now() + 15_000; ;) {
    const res = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`)
    if (res.ok) {
      const body = await res.json() as { data?: JaegerTrace[] }
      const found = body.data?.[0]
      if (found !== undefined && found.spans.length >= minSpans) return found
    }
    if (Date.now() > until) throw new Error(`trace ${traceId} not found in Jaeger with ${minSpans} spans`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

const tagsOf = (span: JaegerSpan): Record<string, unknown> => Object.fromEntries(span.tags.map((tag) => [tag.key, tag.value]))

/** Real MariaDB, Redis and MongoDB when the shared services are described (/tmp/services.env), each on a scratch database. */
async function backends (t: Test): Promise<{ real: boolean, overrides: Partial<Settings> }> {
  const { DATABASE_URL, MONGODB_URL, REDIS_URL } = process.env
  if (DATABASE_URL?.startsWith('mysql://') !== true || MONGODB_URL === undefined || REDIS_URL === undefined) {
    process.stderr.write('SKIPPED: tracing on MariaDB, Redis and MongoDB — DATABASE_URL, MONGODB_URL and REDIS_URL are unset (eval "$(npm run -s services)"); traced on the embedded SQLite only\n')
    return { real: false, overrides: {} }
  }
  const sql = await scratchMysql(DATABASE_URL)
  const mongoUrl = new URL(MONGODB_URL)
  mongoUrl.pathname = `/${sql.name}`
  t.teardown(async () => {
    await sql.drop()
    const client = await MongoClient.connect(MONGODB_URL, { serverSelectionTimeoutMS: 2000 })
    await client.db(sql.name).dropDatabase()
    await client.close()
  })
  // Through the shared Mailpit when it is described: the mail span then names an SMTP server.
  const { MAILPIT_SMTP_URL } = process.env
  const mail: Partial<Settings> = MAILPIT_SMTP_URL === undefined ? {} : { smtpUrl: MAILPIT_SMTP_URL, mailFrom: `Bookstore <no-reply+${sql.name}@localhost>` }
  return { real: true, overrides: { databaseUrl: sql.url, mongodbUrl: mongoUrl.toString(), redisUrl: REDIS_URL, cacheNamespace: sql.name, ...mail } }
}

if (!existsSync(jaegerBin)) {
  skipSuite(t, 'tracing into Jaeger', `no Jaeger at ${jaegerBin} (bash scripts/jaeger.sh builds ${JAEGER_VERSION} once, or set JAEGER_BIN)`)
} else {
  t.test('traced into Jaeger: the traceparent continued, a span per route, child spans for each backend, trace_id in the log', async (t) => {
    const jaeger = await throwawayJaeger()
    t.teardown(() => jaeger.dispose())
    const { real, overrides } = await backends(t)
    const serviceName = `bookstore-test-${process.pid}`
    const config = testConfig({ ...overrides, logLevel: 'info', otelExporterOtlpEndpoint: jaeger.otlpUrl, otelServiceName: serviceName })
    const { stream, lines } = logLines<Record<string, unknown>>()
    const options = serverOptions(config)
    const fastify: FastifyInstance = Fastify({ ...options, logger: { ...(options.logger as object), stream } })
    await fastify.register(fp(app), { config })
    let closed = false
    t.teardown(async () => { if (!closed) await fastify.close() })
    await fastify.ready()

    // Sign-up (hash, mail), sign-in (verify), a book written, a review written and read.
    const email = uniqueEmail('traced')
    const password = 'a fine long passphrase, never in a span'
    t.equal((await fastify.inject({ method: 'POST', url: '/users', payload: { email, password } })).statusCode, 201)
    const signedIn = await fastify.inject({ method: 'POST', url: '/users/sign-in', payload: { email, password } })
    t.equal(signedIn.statusCode, 200)
    const admin = await signIn(fastify, ADMIN.email, ADMIN.password)
    const isbn = `978${String(Date.now()).slice(-10)}`
    const book = await fastify.inject({ method: 'POST', url: '/books', headers: bearer(admin), payload: { ...SAMPLE_BOOK, isbn } })
    t.equal(book.statusCode, 201, book.body)
    const bookId = book.json<{ id: number }>().id
    const user = signedIn.json<{ token: string }>().token
    const review = await fastify.inject({ method: 'POST', url: '/reviews', headers: bearer(user), payload: { book_id: bookId, title: 'Secret title', content: 'A review body that names nothing', author: 'A. Reader' } })
    t.equal(review.statusCode, 201, review.body)

    // The request under test: a cached read, continuing the caller's trace.
    const traceId = '0af7651916cd43dd8448eb211c80319c'
    const traceparent = `00-${traceId}-b7ad6b7169203331-01`
    const read = await fastify.inject({ url: `/books/${bookId}`, headers: { traceparent } })
    t.equal(read.statusCode, 200)
    const reviewsRead = await fastify.inject({ url: `/books/${bookId}/reviews`, headers: { traceparent: `00-${'1'.repeat(32)}-b7ad6b7169203331-01` } })
    t.equal(reviewsRead.statusCode, 200)
    const missing = await fastify.inject({ url: '/books/99999999', headers: { traceparent: `00-${'2'.repeat(32)}-b7ad6b7169203331-01`, 'x-request-id': 'traced-missing' } })
    t.equal(missing.statusCode, 404)
    const searched = await fastify.inject({ url: '/books?q=test%20b', headers: { traceparent: `00-${'4'.repeat(32)}-b7ad6b7169203331-01` } })
    t.equal(searched.statusCode, 200)
    const unrouted = await fastify.inject({ url: '/no/such/route', headers: { traceparent: `00-${'3'.repeat(32)}-b7ad6b7169203331-01` } })
    t.equal(unrouted.statusCode, 404)

    // Closing flushes the batch: everything is in Jaeger after close() resolved.
    await fastify.close()
    closed = true

    const got = await readTrace(jaeger, traceId)
    const server = got.spans.find((s) => tagsOf(s)['span.kind'] === 'server')
    t.ok(server, 'a server span in the continued trace')
    t.equal(server?.operationName, 'GET /books/:id', 'named by method and route pattern')
    t.match(tagsOf(server!), { 'http.response.status_code': 200, 'http.route': '/books/:id', 'http.request.method': 'GET', 'span.kind': 'server' })
    t.same(server?.references.map((r) => r.spanID), ['b7ad6b7169203331'], "the caller's span is its parent")
    t.equal(got.processes[server?.processID ?? '']?.serviceName, serviceName, 'service.name from OTEL_SERVICE_NAME')

    const missingTrace = await readTrace(jaeger, '2'.repeat(32))
    const missingSpan = missingTrace.spans.find((s) => tagsOf(s)['span.kind'] === 'server')
    t.equal(missingSpan?.operationName, 'GET /books/:id')
    t.equal(tagsOf(missingSpan!)['http.response.status_code'], 404, 'a 404 with its status code too')

    const unroutedSpan = (await readTrace(jaeger, '3'.repeat(32))).spans.find((s) => tagsOf(s)['span.kind'] === 'server')
    t.equal(unroutedSpan?.operationName, 'GET', 'no route matched: the method alone (a URL would make names unbounded)')
    t.equal(tagsOf(unroutedSpan!)['http.response.status_code'], 404)

    // A search's statements (the book_search index on either database) are in its trace too.
    const search = (await readTrace(jaeger, '4'.repeat(32), 2)).spans.filter((s) => tagsOf(s)['db.system'] === (real ? 'mysql' : 'sqlite'))
    t.ok(search.some((s) => /book_(search|blocks)/.test(String(tagsOf(s)['db.query.text']))), `the search's SQL (${search.map((s) => s.operationName).join(', ')})`)

    // Every trace the service sent: find the child spans by kind.
    const res = await fetch(`${jaeger.queryUrl}/api/traces?service=${serviceName}&limit=100&lookback=1h`)
    const all = (await res.json() as { data: JaegerTrace[] }).data.flatMap((trace) => trace.spans)
    const named = (test: (s: JaegerSpan) => boolean): JaegerSpan[] => all.filter(test)
    const system = real ? 'mysql' : 'sqlite'
    const sql = named((s) => tagsOf(s)['db.system'] === system)
    t.ok(sql.length > 5, `SQL spans (${sql.length})`)
    t.ok(sql.some((s) => /^INSERT books$/.test(s.operationName)), 'the book write')
    for (const s of sql) {
      const tags = tagsOf(s)
      t.equal(tags['span.kind'], 'client')
      t.type(tags['db.query.text'], 'string')
      t.equal(tags['db.operation.name'], s.operationName.split(' ')[0])
    }
    const passwords = named((s) => s.operationName.startsWith('password.'))
    t.ok(passwords.some((s) => s.operationName === 'password.hash'), 'the sign-up hash')
    t.ok(passwords.some((s) => s.operationName === 'password.verify'), 'the sign-in check')
    const mail = named((s) => s.operationName === 'mail.send')
    t.ok(mail.length >= 1, 'the verification mail sent')
    t.ok(mail.every((s) => s.references.length === 1), 'each a child of the sign-up that enqueued it')
    if (config.smtpUrl !== undefined) {
      t.match(tagsOf(mail[0]!), { 'network.protocol.name': 'smtp', 'server.address': '127.0.0.1', 'span.kind': 'client' }, 'through SMTP: the server named')
    }
    if (real) {
      const redis = named((s) => tagsOf(s)['db.system'] === 'redis')
      t.ok(redis.length > 0, `Redis command spans (${redis.length})`)
      t.ok(redis.every((s) => /^[A-Z]+$/.test(s.operationName) && tagsOf(s)['db.operation.name'] === s.operationName), 'named by the command')
      const mongo = named((s) => tagsOf(s)['db.system'] === 'mongodb')
      t.ok(mongo.some((s) => s.operationName === 'insert reviews'), 'the review write')
      t.ok(mongo.some((s) => s.operationName === 'find reviews' && s.traceID === '1'.repeat(32)), 'the review read, in its request\'s trace')
      t.ok(mongo.every((s) => tagsOf(s)['db.collection.name'] !== undefined))
    }

    // Nothing bound or secret in any attribute of any span.
    const everyValue = JSON.stringify(all.map((s) => s.tags))
    for (const secret of [password, ADMIN.password, email, isbn, 'Secret title', user, admin]) {
      t.notOk(everyValue.includes(secret), `no span attribute holds ${secret.slice(0, 12)}…`)
    }

    // The log line of the 404 (logged at info) names its trace.
    const line = lines.find((l) => l.reqId === 'traced-missing' && l.msg === 'request completed')
    t.equal(line?.trace_id, '2'.repeat(32), 'trace_id on the log line')
    t.match(line?.span_id, /^[0-9a-f]{16}$/)
  })
}
