import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { bearer, build, signIn, signUp, skipSuite } from '../support/app'
import { freePort } from '../support/servers'

/** Debian's chromium (.ci/run installs it); playwright-core never downloads a browser of its own. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** As this machine's closed network needs: no background connections, no first-run work. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

/**
 * The page a site would serve: the WebAuthn JSON forms in, credential.toJSON() out, nothing
 * else. Served by the test on the app's origin (Playwright answers the request), so the
 * browser's origin is exactly what WEBAUTHN_ORIGINS defaults to.
 */
const PAGE = `<!doctype html><meta charset="utf-8"><title>passkeys</title><script>
async function call (url, body, token) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = 'Bearer ' + token
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}
window.registerPasskey = async (token) => {
  const options = await call('/users/me/passkeys/options', {}, token)
  const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.body) })
  return call('/users/me/passkeys', { name: 'Virtual authenticator', credential: credential.toJSON() }, token)
}
window.signInWithPasskey = async () => {
  const options = await call('/users/sign-in/passkey/options', {})
  const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.body) })
  return call('/users/sign-in/passkey', { credential: credential.toJSON() })
}
</script>`

interface Answer { status: number, body: Record<string, unknown> }

if (!existsSync(CHROMIUM)) {
  skipSuite(t, 'browser test of passkeys', `no Chromium at ${CHROMIUM} (apt-get install chromium, as .ci/run does, or set CHROMIUM_PATH)`)
} else {
  t.test('a passkey end to end in a real browser with a virtual authenticator', { timeout: 90_000 }, async (t) => {
    const { chromium } = await import('playwright-core')
    const port = await freePort()
    // localhost: a secure context over plain HTTP, and a valid RP ID.
    const origin = `http://localhost:${port}`
    const app = await build(t, { appUrl: origin })
    await app.listen({ host: '127.0.0.1', port })
    const profile = mkdtempSync(path.join(tmpdir(), 'bookstore-chromium-'))
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS })
    t.teardown(async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    })
    const page = await context.newPage()
    await page.route(`${origin}/passkeys.html`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: PAGE }))
    const cdp = await context.newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true }
    })
    await page.goto(`${origin}/passkeys.html`)

    const user = await signUp(app)
    const token = await signIn(app, user.email, user.password)

    const registered = await page.evaluate(`registerPasskey(${JSON.stringify(token)})`) as Answer
    t.equal(registered.status, 201, 'registered')
    t.match(registered.body, { name: 'Virtual authenticator', last_used_at: null })

    const signedIn = await page.evaluate('signInWithPasskey()') as Answer
    t.equal(signedIn.status, 200, 'signed in with the discoverable passkey')
    t.same(signedIn.body.user, { id: user.id, email: user.email })
    const me = await app.inject({ url: '/users/me', headers: bearer(String(signedIn.body.token)) })
    t.equal(me.statusCode, 200, 'the session works')
    t.match(me.json(), { id: user.id })
    const listed = (await app.inject({ url: '/users/me/passkeys', headers: bearer(token) })).json<Array<{ id: string, last_used_at: string | null }>>()
    t.equal(listed.length, 1)
    t.type(listed[0]?.last_used_at, 'string', 'last_used_at is the sign-in')

    const removed = await app.inject({ method: 'DELETE', url: `/users/me/passkeys/${String(registered.body.id)}`, headers: bearer(token) })
    t.equal(removed.statusCode, 204, 'deleted')
    const refused = await page.evaluate('signInWithPasskey()') as Answer
    t.equal(refused.status, 401, 'the authenticator still offers it, the server no longer knows it')
    t.match(refused.body, { code: 'INVALID_CREDENTIALS' })
  })
}
