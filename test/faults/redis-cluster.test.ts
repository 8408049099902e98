import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { binaryAvailable, redisCli, throwawayCluster, until, type Throwaway } from '../../scripts/lib/throwaway'
import { build, clusterSuiteRuns, userWith } from '../support/app'
import { checkPhases, injector, seedBooks, startLoad } from '../support/load'
import { AUTH_LIMIT, MAX_FAILURES, exercise, workingAgain } from './redis-sentinel-cluster'

/**
 * The app on a Redis Cluster (contract, "Running on more than one machine"): six nodes on
 * loopback, three masters with a replica each. Every path that keeps state in Redis works,
 * and no command or script ever touches keys of two slots (no node counts a CROSSSLOT error).
 * Under a read/write load, the master of the book cache's slot is taken over by its replica,
 * once by CLUSTER FAILOVER FORCE on the replica (the old master dropped on the spot), once
 * by killing the master and once by freezing it (SIGSTOP); each time reads keep answering (0 failed), none is stale, and
 * throttles, idempotency keys and the rate limit work again within 10 s of the takeover.
 */

const WORKING_AGAIN_MS = 10_000
t.setTimeout(240_000)

/** CROSSSLOT errors a node has answered since it started (INFO errorstats, Redis 6.2+). */
function crossSlotErrors (nodes: readonly Throwaway[]): number {
  return nodes.reduce((sum, node) => {
    try {
      return sum + Number(/errorstat_CROSSSLOT:count=(\d+)/.exec(redisCli(node.port, ['info', 'errorstats']))?.[1] ?? 0)
    } catch {
      return sum // a killed node counts nothing more
    }
  }, 0)
}

const missing = binaryAvailable('redis-server') && binaryAvailable('redis-cli') ? undefined : 'no redis-server or redis-cli binary on PATH (Debian: apt-get install redis-server)'
if (clusterSuiteRuns(t, 'Redis Cluster suite', missing)) {
  t.test('Redis Cluster: every Redis path in one slot each, then three takeovers under load', { timeout: 240_000 }, async (t) => {
    const cluster = await throwawayCluster()
    t.teardown(() => cluster.dispose())
    const namespace = `cluster-${randomUUID()}`
    const app = await build(t, {
      redisClusterNodes: cluster.nodesSetting,
      cacheNamespace: namespace,
      authRateLimit: AUTH_LIMIT,
      signinMaxFailures: MAX_FAILURES
    })
    t.equal(app.cache.name, 'redis')
    const send = injector(app)
    const author = await userWith(app, 2)
    const tag = `c${randomUUID().replaceAll('-', '').slice(0, 10)}`
    const [probeBook = 0, ...books] = await seedBooks(send, author.token, tag, 7)
    t.same(await exercise(app, author.token, probeBook), [], 'healthy: cache hits and invalidation, Idempotency-Key, sign-in throttle and rate limit work')
    t.equal(crossSlotErrors(cluster.nodes), 0, 'no CROSSSLOT on any node')
    const booksSlot = Number(redisCli(cluster.nodes[0]?.port ?? 0, ['cluster', 'keyslot', `{${namespace}:books}:generation`]).trim())

    const load = startLoad({ writer: send, readers: [send], token: author.token, books, tag, slowMs: 1000, timeoutMs: 5000, maxMs: 200_000 })
    // A failed step must not leave the load running to its maxMs.
    let stopped: ReturnType<typeof load.stop> | undefined
    const stopLoad = (): ReturnType<typeof load.stop> => { stopped ??= load.stop(); return stopped }
    t.teardown(async () => { await stopLoad() })
    await sleep(2000)

    // 1. The replica takes over at once (FORCE: without the master's agreement).
    const first = cluster.masterOf(booksSlot)
    const firstReplica = await cluster.replicaOf(first)
    load.mark('forced')
    const forcedAt = Date.now()
    redisCli(firstReplica.port, ['cluster', 'failover', 'force'])
    const second = await cluster.takenOver(booksSlot, first)
    load.mark('taken over')
    t.equal(second, firstReplica, `forced: the replica serves the slot ${Date.now() - forcedAt} ms later`)
    const afterForce = await workingAgain(app, author.token, probeBook, WORKING_AGAIN_MS)
    t.same(afterForce.problems, [], `forced: every Redis path works again ${afterForce.ms} ms after the takeover (bound ${WORKING_AGAIN_MS} ms)`)
    await until('the old master to replicate the new one', () => redisCli(first.port, ['info', 'replication']).includes('master_link_status:up'))
    await sleep(2000)

    // 2. The new master is killed; its replica (the old master) takes over by election.
    load.mark('killed')
    await second.kill()
    const killedAt = Date.now()
    let third
    try {
      third = await cluster.takenOver(booksSlot, second)
    } finally {
      load.mark('taken over again')
    }
    t.equal(third, first, `killed: the replica serves the slot ${Date.now() - killedAt} ms after the kill`)
    const afterKill = await workingAgain(app, author.token, probeBook, WORKING_AGAIN_MS)
    t.same(afterKill.problems, [], `killed: every Redis path works again ${afterKill.ms} ms after the takeover (bound ${WORKING_AGAIN_MS} ms)`)
    await sleep(2000)

    // 3. The killed node comes back (as the replica of the slot's master, which the Cluster
    // remembers), and the master is frozen: it keeps its connections open and answers nothing.
    load.mark('node back')
    await second.start()
    await until('the restarted node to replicate the master', () => redisCli(second.port, ['info', 'replication']).includes('master_link_status:up'))
    await sleep(2000)
    load.mark('frozen')
    first.signal('SIGSTOP')
    const frozenAt = Date.now()
    let fourth
    try {
      fourth = await cluster.takenOver(booksSlot, first)
    } finally {
      load.mark('taken over after freeze')
    }
    t.equal(fourth, second, `frozen: the replica serves the slot ${Date.now() - frozenAt} ms after the freeze`)
    const afterFreeze = await workingAgain(app, author.token, probeBook, WORKING_AGAIN_MS)
    t.same(afterFreeze.problems, [], `frozen: every Redis path works again ${afterFreeze.ms} ms after the takeover (bound ${WORKING_AGAIN_MS} ms)`)
    await sleep(2000)
    load.mark('thawed')
    first.signal('SIGCONT')
    await sleep(3000)
    t.same(await exercise(app, author.token, probeBook), [], 'thawed (the old master now a replica): every Redis path works')
    const result = await stopLoad()
    t.equal(crossSlotErrors(cluster.nodes), 0, 'no CROSSSLOT on any node, after the load and every takeover')
    await app.close()

    checkPhases(t, result, [
      ['healthy', 'start', 'forced'],
      ['forced takeover, until done', 'forced', 'taken over'],
      ['after the takeover', 'taken over', 'killed'],
      ['master killed, until taken over', 'killed', 'taken over again'],
      ['after the takeover', 'taken over again', 'node back'],
      ['killed node back as replica', 'node back', 'frozen'],
      ['master frozen, until taken over', 'frozen', 'taken over after freeze'],
      ['after the takeover', 'taken over after freeze', 'thawed'],
      ['old master thawed', 'thawed', 'end']
    ], { name: 'redis-cluster', quiet: ['forced'] })
  })

  t.test('a Cluster client closed while a slot refresh is in flight lets its process exit', async (t) => {
    const cluster = await throwawayCluster()
    t.teardown(() => cluster.dispose())
    // The client the app uses, refreshing its slot map every 10 ms so that, closed at a
    // random moment 40 times, some close lands while a refresh is in flight (with ioredis'
    // own Cluster about one in three did, and each left a timer that kept the process alive).
    const client = JSON.stringify(path.join(__dirname, '..', '..', 'src', 'cache', 'redis-client.js'))
    const script = `const { ClosableCluster } = require(${client});
      (async () => {
        for (let i = 0; i < 40; i++) {
          const c = new ClosableCluster(${JSON.stringify(cluster.nodes.slice(0, 1).map((node) => ({ host: '127.0.0.1', port: node.port })))}, { lazyConnect: true, slotsRefreshInterval: 10 })
          await c.connect()
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 25))
          await c.quit()
        }
        console.log('closed')
      })()`
    const started = Date.now()
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 })
    t.equal(result.stdout.trim(), 'closed', 'every client connected and quit')
    t.equal(result.signal, null, `the process exited on its own (${Date.now() - started} ms)`)
  })
}
