import t from 'tap'
import { ADMIN, REAL_BACKENDS, bearer, build, signIn, skipSuite } from './support/app'

/**
 * What an instance never uses it never loads: ioredis without a Redis configured, and
 * @simplewebauthn/server (with its certificate parsers, ~10 MB resident) until the first
 * passkey ceremony. Measured by require.cache, in a process of its own (this file), on the
 * embedded default.
 */
const loaded = (pattern: RegExp): string[] => Object.keys(require.cache).filter((file) => pattern.test(file))
const IOREDIS = /node_modules[\\/]ioredis[\\/]/
const WEBAUTHN = /node_modules[\\/]@simplewebauthn[\\/]server[\\/]/

if (REAL_BACKENDS) {
  skipSuite(t, 'modules an instance does not use', 'BOOKSTORE_TEST_APP=real configures a Redis, which loads ioredis')
} else {
  t.test('on the embedded default, neither ioredis nor the WebAuthn library is loaded until a ceremony needs it', async (t) => {
    const app = await build(t)
    t.equal((await app.inject({ url: '/books' })).statusCode, 200)
    const token = await signIn(app, ADMIN.email, ADMIN.password)
    t.equal((await app.inject({ url: '/users/me', headers: bearer(token) })).statusCode, 200)
    t.same(loaded(IOREDIS), [], 'no Redis configured: no ioredis')
    t.same(loaded(WEBAUTHN), [], 'no passkey ceremony yet: no @simplewebauthn/server')

    const options = await app.inject({ method: 'POST', url: '/users/me/passkeys/options', headers: bearer(token), payload: {} })
    t.equal(options.statusCode, 200, 'the first ceremony works')
    t.match(options.json(), { challenge: String, rp: { id: String } })
    t.not(loaded(WEBAUTHN).length, 0, 'and loaded the library')
  })
}
