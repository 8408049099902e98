import t from 'tap'
import { build, uniqueEmail } from '../support/app'

/** Sign-ins from `forwarded` (an X-Forwarded-For value) via a peer at `remoteAddress`. */
const signIn = (app: Awaited<ReturnType<typeof build>>, forwarded: string | undefined, remoteAddress = '127.0.0.1') => app.inject({
  method: 'POST', url: '/users/sign-in', remoteAddress,
  headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
  payload: { email: uniqueEmail(), password: 'some password' }
})

t.test('TRUST_PROXY unset: a spoofed X-Forwarded-For changes nothing', async (t) => {
  const app = await build(t, { authRateLimit: 2 })
  t.equal((await signIn(app, '203.0.113.1')).statusCode, 401)
  t.equal((await signIn(app, '203.0.113.2')).statusCode, 401)
  const third = await signIn(app, '203.0.113.3')
  t.equal(third.statusCode, 429, 'a new forwarded address each time does not escape the limit')
  t.match(third.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests' })
})

t.test('TRUST_PROXY=true: the limits count the forwarded client', async (t) => {
  const app = await build(t, { authRateLimit: 2, trustProxy: 'true' })
  t.equal((await signIn(app, '203.0.113.1')).statusCode, 401)
  t.equal((await signIn(app, '203.0.113.1')).statusCode, 401)
  t.equal((await signIn(app, '203.0.113.1')).statusCode, 429, 'the third from one client is limited')
  t.equal((await signIn(app, '203.0.113.2')).statusCode, 401, 'another client behind the same proxy is not')
  t.equal((await signIn(app, '198.51.100.7, 203.0.113.2')).statusCode, 401, 'every hop trusted: the first address is the client, a new one')
})

t.test('TRUST_PROXY as addresses: only the named proxies are believed', async (t) => {
  const app = await build(t, { authRateLimit: 2, trustProxy: '10.0.0.0/8' })
  // Through the proxy (10.1.2.3): each forwarded client has its own count.
  t.equal((await signIn(app, '203.0.113.1', '10.1.2.3')).statusCode, 401)
  t.equal((await signIn(app, '203.0.113.1', '10.1.2.3')).statusCode, 401)
  t.equal((await signIn(app, '203.0.113.1', '10.1.2.3')).statusCode, 429)
  t.equal((await signIn(app, '203.0.113.9', '10.1.2.3')).statusCode, 401)
  // From an address that is no listed proxy, X-Forwarded-For is ignored: the peer counts.
  t.equal((await signIn(app, '203.0.113.20', '192.0.2.5')).statusCode, 401)
  t.equal((await signIn(app, '203.0.113.21', '192.0.2.5')).statusCode, 401)
  t.equal((await signIn(app, '203.0.113.22', '192.0.2.5')).statusCode, 429)
})

t.test('TRUST_PROXY as a hop count', async (t) => {
  const app = await build(t, { authRateLimit: 1, trustProxy: '1' })
  // One trusted hop: the address the proxy appended (the last) is the client; earlier ones are the client's own claims.
  t.equal((await signIn(app, '1.1.1.1, 203.0.113.1')).statusCode, 401)
  t.equal((await signIn(app, '2.2.2.2, 203.0.113.1')).statusCode, 429, 'a forged first entry does not make a new client')
})
