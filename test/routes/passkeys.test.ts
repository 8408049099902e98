import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { ADMIN, bearer, build, buildLogged, errorBody, signIn, signUp, type TokenPair } from '../support/app'
import { SoftAuthenticator } from '../support/authenticator'

const APP_URL = 'https://shop.example.com'
const ORIGIN = APP_URL
const RP_ID = 'shop.example.com'
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const INVALID = errorBody(401, 'INVALID_CREDENTIALS', 'Unauthorized', 'Invalid email or password')
const PASSKEY_INVALID = errorBody(400, 'PASSKEY_INVALID', 'Bad Request', 'The passkey response does not verify')
const NOT_FOUND = errorBody(404, 'PASSKEY_NOT_FOUND', 'Not Found', 'Passkey not found')

interface Listed { id: string, name: string, created_at: string, last_used_at: string | null }

const registrationOptions = async (app: FastifyInstance, token: string) => {
  const res = await app.inject({ method: 'POST', url: '/users/me/passkeys/options', headers: bearer(token) })
  if (res.statusCode !== 200) throw new Error(`options: ${res.statusCode} ${res.body}`)
  return res.json<{ challenge: string, excludeCredentials?: Array<{ id: string }> } & Record<string, unknown>>()
}
const signInOptions = async (app: FastifyInstance) => {
  const res = await app.inject({ method: 'POST', url: '/users/sign-in/passkey/options' })
  if (res.statusCode !== 200) throw new Error(`options: ${res.statusCode} ${res.body}`)
  return res.json<{ challenge: string } & Record<string, unknown>>()
}
const register = (app: FastifyInstance, token: string, credential: unknown, name = 'Laptop') =>
  app.inject({ method: 'POST', url: '/users/me/passkeys', headers: bearer(token), payload: { name, credential } })
const passkeySignIn = (app: FastifyInstance, credential: unknown) =>
  app.inject({ method: 'POST', url: '/users/sign-in/passkey', payload: { credential } })

/** A user with one registered passkey. */
async function withPasskey (app: FastifyInstance) {
  const user = await signUp(app)
  const token = await signIn(app, user.email, user.password)
  const authenticator = new SoftAuthenticator(new TextEncoder().encode(`user-${user.id}`))
  const options = await registrationOptions(app, token)
  const res = await register(app, token, authenticator.register({ challenge: options.challenge, origin: ORIGIN, rpId: RP_ID }))
  if (res.statusCode !== 201) throw new Error(`register: ${res.statusCode} ${res.body}`)
  return { user, token, authenticator, passkey: res.json<Listed>() }
}

t.test('passkeys', async (t) => {
  const app = await build(t, { appUrl: APP_URL })
  const adminToken = await signIn(app, ADMIN.email, ADMIN.password)
  const events = async (type: string, userId: number) =>
    (await app.inject({ url: `/audit-events?type=${type}&user_id=${userId}`, headers: bearer(adminToken) })).json<Array<{ details: Record<string, unknown>, actor_id: number | null }>>()

  t.test('creation options: the contract\'s choices, excluding the user\'s passkeys', async (t) => {
    const { user, token, authenticator } = await withPasskey(app)
    const options = await registrationOptions(app, token)
    t.match(options, {
      rp: { id: RP_ID, name: 'Bookstore' },
      user: { name: user.email },
      attestation: 'none',
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      pubKeyCredParams: [{ alg: -7, type: 'public-key' }, { alg: -257, type: 'public-key' }]
    })
    t.match(options.challenge, /^[A-Za-z0-9_-]{32,}$/)
    t.same(options.excludeCredentials?.map((c) => c.id), [authenticator.id])
    const empty = await app.inject({ method: 'POST', url: '/users/me/passkeys/options', headers: bearer(token), payload: {} })
    t.equal(empty.statusCode, 200, '{} is as good as no body')
    const extra = await app.inject({ method: 'POST', url: '/users/me/passkeys/options', headers: bearer(token), payload: { x: 1 } })
    t.equal(extra.statusCode, 400)
    t.match(extra.json(), { code: 'VALIDATION_ERROR' })
    const anonymous = await app.inject({ method: 'POST', url: '/users/me/passkeys/options' })
    t.equal(anonymous.statusCode, 401)
  })

  t.test('register, list, Location, audit; delete; 404 for unknown and another user\'s', async (t) => {
    const { user, token, passkey } = await withPasskey(app)
    t.same(passkey, { id: passkey.id, name: 'Laptop', created_at: passkey.created_at, last_used_at: null })
    t.match(passkey.created_at, ISO_UTC)
    const list = await app.inject({ url: '/users/me/passkeys', headers: bearer(token) })
    t.equal(list.statusCode, 200)
    t.same(list.json(), [passkey])
    const added = await events('passkey.added', user.id)
    t.same(added.map((e) => e.details), [{ id: passkey.id }])
    t.equal(added[0]?.actor_id, user.id)

    const other = await withPasskey(app)
    const foreign = await app.inject({ method: 'DELETE', url: `/users/me/passkeys/${passkey.id}`, headers: bearer(other.token) })
    t.equal(foreign.statusCode, 404)
    t.same(foreign.json(), NOT_FOUND)
    const unknown = await app.inject({ method: 'DELETE', url: '/users/me/passkeys/nope', headers: bearer(token) })
    t.same(unknown.json(), NOT_FOUND)

    const gone = await app.inject({ method: 'DELETE', url: `/users/me/passkeys/${passkey.id}`, headers: bearer(token) })
    t.equal(gone.statusCode, 204)
    t.same((await app.inject({ url: '/users/me/passkeys', headers: bearer(token) })).json(), [])
    t.same((await events('passkey.removed', user.id)).map((e) => e.details), [{ id: passkey.id }])
  })

  t.test('Location header of a registration', async (t) => {
    const user = await signUp(app)
    const token = await signIn(app, user.email, user.password)
    const options = await registrationOptions(app, token)
    const res = await register(app, token, new SoftAuthenticator().register({ challenge: options.challenge, origin: ORIGIN, rpId: RP_ID }), 'Phone')
    t.equal(res.statusCode, 201)
    t.equal(res.headers.location, `/users/me/passkeys/${res.json<Listed>().id}`)
  })

  t.test('a registration that does not verify is PASSKEY_INVALID', async (t) => {
    const user = await signUp(app)
    const token = await signIn(app, user.email, user.password)
    const cases: Array<[string, (challenge: string) => unknown]> = [
      ['another challenge', () => new SoftAuthenticator().register({ challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', origin: ORIGIN, rpId: RP_ID })],
      ['a wrong origin', (challenge) => new SoftAuthenticator().register({ challenge, origin: 'https://evil.example.com', rpId: RP_ID })],
      ['a wrong RP ID', (challenge) => new SoftAuthenticator().register({ challenge, origin: ORIGIN, rpId: 'evil.example.com' })],
      ['no user verification', (challenge) => new SoftAuthenticator().register({ challenge, origin: ORIGIN, rpId: RP_ID }, { flags: 0x41 })]
    ]
    for (const [what, make] of cases) {
      const options = await registrationOptions(app, token)
      const res = await register(app, token, make(options.challenge))
      t.equal(res.statusCode, 400, what)
      t.same(res.json(), PASSKEY_INVALID, what)
    }
    // Another user's challenge is not this user's.
    const other = await signUp(app)
    const otherToken = await signIn(app, other.email, other.password)
    const theirs = await registrationOptions(app, otherToken)
    const stolen = await register(app, token, new SoftAuthenticator().register({ challenge: theirs.challenge, origin: ORIGIN, rpId: RP_ID }))
    t.same(stolen.json(), PASSKEY_INVALID, "another user's challenge")
    // A challenge works once.
    const options = await registrationOptions(app, token)
    t.equal((await register(app, token, new SoftAuthenticator().register({ challenge: options.challenge, origin: ORIGIN, rpId: RP_ID }))).statusCode, 201)
    const again = await register(app, token, new SoftAuthenticator().register({ challenge: options.challenge, origin: ORIGIN, rpId: RP_ID }))
    t.same(again.json(), PASSKEY_INVALID, 'a reused challenge')
    t.same((await app.inject({ url: '/users/me/passkeys', headers: bearer(token) })).json<Listed[]>().length, 1, 'only the one that verified')
  })

  t.test('registration body validation', async (t) => {
    const user = await signUp(app)
    const token = await signIn(app, user.email, user.password)
    const options = await registrationOptions(app, token)
    const credential = new SoftAuthenticator().register({ challenge: options.challenge, origin: ORIGIN, rpId: RP_ID })
    for (const payload of [{ name: '', credential }, { name: 'x'.repeat(101), credential }, { name: 'ok' }, { name: 'ok', credential: { id: 'x' } }, { name: 'ok', credential, extra: 1 }]) {
      const res = await app.inject({ method: 'POST', url: '/users/me/passkeys', headers: bearer(token), payload })
      t.equal(res.statusCode, 400)
      t.match(res.json(), { statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request' })
    }
  })

  t.test('sign-in with a passkey: the sign-in answer, a working session, last_used_at, audit method passkey', async (t) => {
    const { user, token, authenticator, passkey } = await withPasskey(app)
    const options = await signInOptions(app)
    t.match(options, { rpId: RP_ID, userVerification: 'required' })
    t.ok(options.allowCredentials === undefined || (Array.isArray(options.allowCredentials) && options.allowCredentials.length === 0), 'no credentials listed')
    const res = await passkeySignIn(app, authenticator.assert({ challenge: options.challenge, origin: ORIGIN, rpId: RP_ID }, 1))
    t.equal(res.statusCode, 200)
    const body = res.json<TokenPair>()
    t.same(body, { token: body.token, refresh_token: body.refresh_token, expires_in: 3600, user: { id: user.id, email: user.email } })
    const me = await app.inject({ url: '/users/me', headers: bearer(body.token) })
    t.equal(me.statusCode, 200)
    const listed = (await app.inject({ url: '/users/me/passkeys', headers: bearer(token) })).json<Listed[]>()
    t.equal(listed[0]?.id, passkey.id)
    t.match(listed[0]?.last_used_at, ISO_UTC)
    const signedIn = await events('user.signed_in', user.id)
    t.same(signedIn[0]?.details, { method: 'passkey' }, 'the newest sign-in was by passkey')
  })

  t.test('sign-in failures are all INVALID_CREDENTIALS', async (t) => {
    const { authenticator } = await withPasskey(app)
    let counter = 10
    const fails = async (what: string, credential: unknown) => {
      const res = await passkeySignIn(app, credential)
      t.equal(res.statusCode, 401, what)
      t.same(res.json(), INVALID, what)
    }
    await fails('another challenge', authenticator.assert({ challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', origin: ORIGIN, rpId: RP_ID }, ++counter))
    await fails('a wrong origin', authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: 'https://evil.example.com', rpId: RP_ID }, ++counter))
    await fails('a wrong RP ID', authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: 'evil.example.com' }, ++counter))
    await fails('an unknown credential', new SoftAuthenticator().assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: RP_ID }, ++counter))
    await fails('no user verification', authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: RP_ID }, ++counter, { flags: 0x01 }))
    const forged = authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: RP_ID }, ++counter)
    forged.response.signature = new SoftAuthenticator().assert({ challenge: 'x', origin: ORIGIN, rpId: RP_ID }, 1).response.signature
    await fails('a bad signature', forged)

    // A used challenge: the first use signs in, the second (even freshly signed) does not.
    const used = (await signInOptions(app)).challenge
    t.equal((await passkeySignIn(app, authenticator.assert({ challenge: used, origin: ORIGIN, rpId: RP_ID }, 20))).statusCode, 200)
    await fails('a used challenge', authenticator.assert({ challenge: used, origin: ORIGIN, rpId: RP_ID }, 21))

    // An expired challenge: one stored as the options route stores it, five minutes old.
    const expired = 'ZXhwaXJlZC1jaGFsbGVuZ2UtZXhwaXJlZC1jaGFsbGVuZ2U'
    await app.stores.passkeys.saveChallenge({
      challenge_hash: createHash('sha256').update(expired).digest('hex'), user_id: null, purpose: 'sign_in', expires_at: new Date(Date.now() - 1000).toISOString()
    })
    await fails('an expired challenge', authenticator.assert({ challenge: expired, origin: ORIGIN, rpId: RP_ID }, 22))

    // The counter went backwards (non-zero): a cloned authenticator.
    await fails('a counter that went backwards', authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: RP_ID }, 5))
    await fails('a counter that stood still', authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: RP_ID }, 20))
    t.equal((await passkeySignIn(app, authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: RP_ID }, 23))).statusCode, 200, 'forward again signs in')

    // A registration challenge does not sign in.
    const user = await signUp(app)
    const regChallenge = (await registrationOptions(app, await signIn(app, user.email, user.password))).challenge
    await fails("a registration's challenge", authenticator.assert({ challenge: regChallenge, origin: ORIGIN, rpId: RP_ID }, 30))
  })

  t.test('a removed passkey signs in no more; a deleted user\'s neither', async (t) => {
    const { token, authenticator, passkey } = await withPasskey(app)
    t.equal((await app.inject({ method: 'DELETE', url: `/users/me/passkeys/${passkey.id}`, headers: bearer(token) })).statusCode, 204)
    const res = await passkeySignIn(app, authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: RP_ID }, 1))
    t.equal(res.statusCode, 401)
    t.same(res.json(), INVALID)

    const leaving = await withPasskey(app)
    t.equal((await app.inject({ method: 'DELETE', url: '/users/me', headers: bearer(leaving.token), payload: { password: leaving.user.password } })).statusCode, 204)
    const after = await passkeySignIn(app, leaving.authenticator.assert({ challenge: (await signInOptions(app)).challenge, origin: ORIGIN, rpId: RP_ID }, 1))
    t.same(after.json(), INVALID)
  })

  t.test('the export lists passkeys as listed', async (t) => {
    const { token, passkey } = await withPasskey(app)
    const res = await app.inject({ url: '/users/me/export', headers: bearer(token) })
    t.equal(res.statusCode, 200)
    t.same(res.json<{ passkeys: Listed[] }>().passkeys, [passkey])
  })

  t.test('sign-in validation', async (t) => {
    for (const payload of [{}, { credential: {} }, { credential: { id: 'abc' } }]) {
      const res = await app.inject({ method: 'POST', url: '/users/sign-in/passkey', payload })
      t.equal(res.statusCode, 400)
      t.match(res.json(), { code: 'VALIDATION_ERROR' })
    }
  })
})

t.test('each passkey sign-in route has its own per-address limit', async (t) => {
  const app = await build(t, { appUrl: APP_URL, authRateLimit: 2 })
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ method: 'POST', url: '/users/sign-in/passkey/options' })).statusCode, 200)
  const limited = await app.inject({ method: 'POST', url: '/users/sign-in/passkey/options' })
  t.equal(limited.statusCode, 429)
  t.match(limited.json(), { code: 'RATE_LIMITED' })
  t.equal((await passkeySignIn(app, {})).statusCode, 400, 'the other route counts on its own')
  t.equal((await passkeySignIn(app, {})).statusCode, 400)
  const signInLimited = await passkeySignIn(app, {})
  t.equal(signInLimited.statusCode, 429, 'and is limited at its own count')
  t.match(signInLimited.json(), { code: 'RATE_LIMITED' })
  t.ok(Number(signInLimited.headers['retry-after']) > 0, 'with Retry-After')
})

t.test('no ceremony writes a challenge, a credential or an address into the log', async (t) => {
  const { app, lines } = await buildLogged<{ msg?: string }>(t, { appUrl: APP_URL, logLevel: 'debug' })
  const { user, token, authenticator } = await withPasskey(app)
  const registration = (await registrationOptions(app, token)).challenge
  const signInChallenge = (await signInOptions(app)).challenge
  const assertion = authenticator.assert({ challenge: signInChallenge, origin: ORIGIN, rpId: RP_ID }, 1)
  t.equal((await passkeySignIn(app, assertion)).statusCode, 200)
  t.equal((await passkeySignIn(app, assertion)).statusCode, 401, 'a replay is refused, and logged as a request like any other')
  t.equal((await passkeySignIn(app, { id: 'x' })).statusCode, 400)
  const log = lines.map((line) => JSON.stringify(line)).join('\n')
  t.ok(lines.some((line) => line.msg === 'request completed'), 'requests were logged at debug')
  const secrets: Array<[string, string]> = [['registration challenge', registration], ['sign-in challenge', signInChallenge],
    ['signature', assertion.response.signature], ['authenticator data', assertion.response.authenticatorData], ['address', user.email]]
  for (const [what, value] of secrets) {
    t.notOk(log.includes(value), `no ${what} in the log`)
  }
})
