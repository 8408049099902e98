import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { skipSuite, twoInstances, userWith } from '../support/app'
import { binaryAvailable, throwawayMariadb, throwawayRedis } from '../support/servers'
import { checkPhases, injector, seedBooks, startLoad } from '../support/load'

/**
 * Two instances of the app sharing one MySQL (MariaDB) and one Redis (with AOF), as two
 * replicas behind a load balancer: every write goes to A, every read to B. B must never
 * answer a book or a list that misses a write A acknowledged before B's read began: with
 * Redis healthy, killed, restarted on its own AOF (which brings back entries older than the
 * writes made while it was down), frozen and thawed. No request may fail meanwhile.
 */

const PHASE_MS = 3000

if (['mariadbd', 'redis-server'].some((cmd) => !binaryAvailable(cmd))) {
  skipSuite(t, 'two-instance fault suite', 'mariadbd or redis-server not installed (npm run services installs them)')
} else {
  t.test('writers on one instance, readers on the other, across Redis outages', { timeout: 90_000 }, async (t) => {
    const mysql = await throwawayMariadb()
    const redis = await throwawayRedis({ appendOnly: true })
    t.teardown(async () => { await redis.dispose(); await mysql.dispose() })
    const { a, b } = await twoInstances(t, { databaseUrl: mysql.url, redisUrl: redis.url })
    const author = await userWith(a, 2)
    const tag = `w${randomUUID().replaceAll('-', '').slice(0, 10)}`
    const books = await seedBooks(injector(a), author.token, tag, 6)

    const load = startLoad({ writer: injector(a), readers: [injector(b)], token: author.token, books, tag, slowMs: 1000, timeoutMs: 5000, maxMs: 60_000 })
    await sleep(PHASE_MS)
    load.mark('killed')
    await redis.kill()
    await sleep(PHASE_MS)
    load.mark('restarted')
    await redis.start()
    await sleep(PHASE_MS)
    load.mark('frozen')
    redis.signal('SIGSTOP')
    await sleep(PHASE_MS)
    load.mark('thawed')
    redis.signal('SIGCONT')
    await sleep(PHASE_MS)
    const result = await load.stop()

    checkPhases(t, result, [
      ['healthy', 'start', 'killed'],
      ['Redis killed', 'killed', 'restarted'],
      ['Redis restarted on its AOF', 'restarted', 'frozen'],
      ['Redis frozen', 'frozen', 'thawed'],
      ['Redis thawed', 'thawed', 'end']
    ], { name: 'two instances', busy: 'both', where: 'writes on A, reads on B' })
  })
}
