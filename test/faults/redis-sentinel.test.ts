import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { binaryAvailable, redisCli, throwawaySentinel, until } from '../../scripts/lib/throwaway'
import { build, clusterSuiteRuns, userWith } from '../support/app'
import { checkPhases, injector, seedBooks, startLoad } from '../support/load'
import { AUTH_LIMIT, MAX_FAILURES, exercise, workingAgain } from './redis-sentinel-cluster'

/**
 * The app on Redis through Sentinel (contract, "Running on more than one machine"): a master,
 * its replica and three Sentinels on loopback. Every path that keeps state in Redis works
 * (cache hits and invalidation, Idempotency-Key, sign-in throttle, rate limit); then, under a
 * read/write load, the master is killed (SIGKILL) and, once the old one is back as a replica,
 * the new master is frozen (SIGSTOP). Each time a Sentinel promotes the replica and:
 * - reads keep answering 200 (from the database while the cache is unusable): 0 failed;
 * - no read shows a book older than a write acknowledged before it began: 0 stale;
 * - throttles, idempotency keys and the rate limit work again within 10 s of the promotion.
 */

const WORKING_AGAIN_MS = 10_000
// Two failovers under load and the settling between them take ~100 s.
t.setTimeout(240_000)

const missing = binaryAvailable('redis-server') && binaryAvailable('redis-cli') ? undefined : 'no redis-server or redis-cli binary on PATH (Debian: apt-get install redis-server)'
if (clusterSuiteRuns(t, 'Redis Sentinel suite', missing)) {
  t.test('Redis through Sentinel: every Redis path, then a killed and a frozen master under load', { timeout: 240_000 }, async (t) => {
    const ha = await throwawaySentinel()
    t.teardown(() => ha.dispose())
    const app = await build(t, {
      redisSentinels: ha.sentinelsSetting,
      redisSentinelName: ha.name,
      cacheNamespace: `sentinel-${randomUUID()}`,
      authRateLimit: AUTH_LIMIT,
      signinMaxFailures: MAX_FAILURES
    })
    t.equal(app.cache.name, 'redis')
    const send = injector(app)
    const author = await userWith(app, 2)
    const tag = `s${randomUUID().replaceAll('-', '').slice(0, 10)}`
    const [probeBook = 0, ...books] = await seedBooks(send, author.token, tag, 7)
    t.same(await exercise(app, author.token, probeBook), [], 'healthy: cache hits and invalidation, Idempotency-Key, sign-in throttle and rate limit work')

    const load = startLoad({ writer: send, readers: [send], token: author.token, books, tag, slowMs: 1000, timeoutMs: 5000, maxMs: 200_000 })
    // A failed step must not leave the load running to its maxMs.
    let stopped: ReturnType<typeof load.stop> | undefined
    const stopLoad = (): ReturnType<typeof load.stop> => { stopped ??= load.stop(); return stopped }
    t.teardown(async () => { await stopLoad() })
    await sleep(2000)

    // 1. The master is killed.
    const first = ha.master()
    load.mark('killed')
    await first.kill()
    const killedAt = Date.now()
    const second = await ha.promoted(first)
    load.mark('promoted')
    t.not(second.port, first.port, `killed: another server was promoted, ${Date.now() - killedAt} ms after the kill`)
    const afterKill = await workingAgain(app, author.token, probeBook, WORKING_AGAIN_MS)
    t.same(afterKill.problems, [], `killed: every Redis path works again ${afterKill.ms} ms after the promotion (bound ${WORKING_AGAIN_MS} ms)`)
    await sleep(2000)

    // The old master comes back empty; the Sentinels make it the new master's replica.
    load.mark('old master back')
    await first.start()
    await until('the old master to replicate the new one', () => redisCli(first.port, ['info', 'replication']).includes('master_link_status:up'))
    await until('the sentinels to list it as a replica', () => ha.sentinels.every((s) => redisCli(s.port, ['sentinel', 'replicas', ha.name]).includes(String(first.port)) &&
      !redisCli(s.port, ['sentinel', 'replicas', ha.name]).includes('s_down')))
    await sleep(2000)

    // 2. The new master is frozen: it keeps its connections open and answers nothing.
    load.mark('frozen')
    second.signal('SIGSTOP')
    const frozenAt = Date.now()
    let third
    try {
      third = await ha.promoted(second)
    } finally {
      load.mark('promoted again')
    }
    t.equal(third, first, `frozen: the replica was promoted ${Date.now() - frozenAt} ms after the freeze`)
    const afterFreeze = await workingAgain(app, author.token, probeBook, WORKING_AGAIN_MS)
    t.same(afterFreeze.problems, [], `frozen: every Redis path works again ${afterFreeze.ms} ms after the promotion (bound ${WORKING_AGAIN_MS} ms)`)
    await sleep(2000)
    load.mark('thawed')
    second.signal('SIGCONT')
    await sleep(4000)
    t.same(await exercise(app, author.token, probeBook), [], 'thawed (the old master demoted): every Redis path works')
    const result = await stopLoad()
    // Before the servers' teardown, so no client is left reconnecting to them.
    await app.close()

    checkPhases(t, result, [
      ['healthy', 'start', 'killed'],
      ['master killed, until promotion', 'killed', 'promoted'],
      ['after promotion', 'promoted', 'old master back'],
      ['old master back as replica', 'old master back', 'frozen'],
      ['master frozen, until promotion', 'frozen', 'promoted again'],
      ['after promotion', 'promoted again', 'thawed'],
      ['old master thawed', 'thawed', 'end']
    ], { name: 'redis-sentinel' })
  })
}
