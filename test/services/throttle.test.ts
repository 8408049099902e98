import pino from 'pino'
import t from 'tap'
import { CacheUnavailableError } from '../../src/cache/breaker'
import { AppError } from '../../src/domain/errors'
import { createSignInThrottle } from '../../src/services/throttle'

const WINDOW_MINUTES = 15

/** Counters in a Map: each key's count and the ms left of its window, which the test sets. */
function fakeCounters () {
  const counts = new Map<string, number>()
  const calls: string[] = []
  let ttlMs = 0
  return {
    calls,
    counts,
    setTtlMs (ms: number): void { ttlMs = ms },
    counters: {
      name: 'fake',
      async peek (key: string) { calls.push('peek'); return { count: counts.get(key) ?? 0, ttlMs } },
      async incr (key: string, ttlSeconds: number) {
        calls.push(`incr ${ttlSeconds}`)
        counts.set(key, (counts.get(key) ?? 0) + 1)
        return { count: counts.get(key) ?? 0, ttlMs }
      },
      async del (key: string) { calls.push('del'); counts.delete(key) }
    }
  }
}

function recordingLog () {
  const lines: Array<{ level: number, msg: string }> = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
  return { log, lines }
}

const failing = async (): Promise<undefined> => undefined
const passing = async (): Promise<string> => 'the account'

t.test('a failure is counted, per email, in a window of SIGNIN_WINDOW_MINUTES', async (t) => {
  const fake = fakeCounters()
  const throttle = createSignInThrottle({ counters: fake.counters, maxFailures: 3, windowMinutes: WINDOW_MINUTES, log: recordingLog().log })
  t.equal(await throttle.attempt('a@example.com', failing), undefined, 'the failure is answered as such')
  t.same(fake.calls, ['peek', `incr ${WINDOW_MINUTES * 60}`])
  await throttle.attempt('a@example.com', failing)
  await throttle.attempt('b@example.com', failing)
  t.same([...fake.counts.values()].sort(), [1, 2], 'one counter per email')
  t.notOk([...fake.counts.keys()].some((key) => key.includes('example.com')), 'the key holds a digest, not the email')
})

t.test('past the limit it refuses with 429 and the window\'s seconds, without checking', async (t) => {
  const fake = fakeCounters()
  const throttle = createSignInThrottle({ counters: fake.counters, maxFailures: 2, windowMinutes: WINDOW_MINUTES, log: recordingLog().log })
  await throttle.attempt('a@example.com', failing)
  t.equal(await throttle.attempt('a@example.com', passing), 'the account', 'one failure under the limit: the check runs')
  await throttle.attempt('a@example.com', failing)
  await throttle.attempt('a@example.com', failing)
  fake.setTtlMs(61_500)
  let checked = false
  const refused = await throttle.attempt('a@example.com', async () => { checked = true; return 'the account' }).catch((err: unknown) => err)
  t.ok(refused instanceof AppError)
  const { statusCode, code, headers } = refused as AppError
  t.same({ statusCode, code, headers }, { statusCode: 429, code: 'TOO_MANY_SIGN_IN_FAILURES', headers: { 'retry-after': '62' } })
  t.notOk(checked, 'a refused attempt checks no password')
  t.equal(fake.counts.size, 1)
  t.equal([...fake.counts.values()][0], 2, 'and is not counted')
  t.equal(await throttle.attempt('b@example.com', passing), 'the account', 'another email is not refused')
  await throttle.attempt('c@example.com', failing)
  await throttle.attempt('c@example.com', failing)
  const third = await throttle.attempt('c@example.com', passing).catch((err: unknown) => err)
  t.equal((third as AppError).statusCode, 429, 'refused from the attempt after SIGNIN_MAX_FAILURES failures')
})

t.test('a success after failures resets the count; one without failures writes nothing', async (t) => {
  const fake = fakeCounters()
  const throttle = createSignInThrottle({ counters: fake.counters, maxFailures: 2, windowMinutes: WINDOW_MINUTES, log: recordingLog().log })
  t.equal(await throttle.attempt('a@example.com', passing), 'the account')
  t.same(fake.calls, ['peek'], 'no failures: only the read')
  await throttle.attempt('a@example.com', failing)
  fake.calls.length = 0
  t.equal(await throttle.attempt('a@example.com', passing), 'the account')
  t.same(fake.calls, ['peek', 'del'])
  t.equal(fake.counts.size, 0, 'the count is gone')
  await throttle.attempt('a@example.com', failing)
  t.equal(await throttle.attempt('a@example.com', passing), 'the account', 'so the next failure starts from one again')
})

t.test('fails open when the cache throws, and says so in the log', async (t) => {
  const broken = async (): Promise<never> => { throw new Error('cache down') }
  const { log, lines } = recordingLog()
  const throttle = createSignInThrottle({ counters: { name: 'fake', peek: broken, incr: broken, del: broken }, maxFailures: 1, windowMinutes: WINDOW_MINUTES, log })
  t.equal(await throttle.attempt('a@example.com', failing), undefined, 'a failure is still a failure')
  t.equal(await throttle.attempt('a@example.com', failing), undefined, 'and is not throttled: nothing was counted')
  t.equal(await throttle.attempt('a@example.com', passing), 'the account', 'a success gets through')
  t.same(lines.map((l) => [l.level, l.msg]), [
    [40, 'sign-in throttle read failed; not throttling'],
    [40, 'sign-in throttle update failed; not throttling'],
    [40, 'sign-in throttle read failed; not throttling'],
    [40, 'sign-in throttle update failed; not throttling'],
    [40, 'sign-in throttle read failed; not throttling']
  ])

  const open = async (): Promise<never> => { throw new CacheUnavailableError('circuit open') }
  const quiet = recordingLog()
  const skipping = createSignInThrottle({ counters: { name: 'fake', peek: open, incr: open, del: open }, maxFailures: 1, windowMinutes: WINDOW_MINUTES, log: quiet.log })
  t.equal(await skipping.attempt('a@example.com', failing), undefined)
  t.same(quiet.lines.map((l) => [l.level, l.msg]), [
    [20, 'sign-in throttle read skipped; not throttling'],
    [20, 'sign-in throttle update skipped; not throttling']
  ], 'an open circuit is logged at debug: the breaker logged when it opened')
})

t.test('a check that throws (a shed hash) is not counted', async (t) => {
  const fake = fakeCounters()
  const throttle = createSignInThrottle({ counters: fake.counters, maxFailures: 2, windowMinutes: WINDOW_MINUTES, log: recordingLog().log })
  await t.rejects(throttle.attempt('a@example.com', async () => { throw new Error('shed') }), /shed/)
  t.same(fake.calls, ['peek'])
})
