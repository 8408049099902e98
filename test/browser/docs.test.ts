import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ADMIN, build, skipSuite, uniqueEmail } from '../support/app'

/** Debian's chromium (.ci/run installs it); playwright-core never downloads a browser of its own. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** As this machine's closed network needs: no background connections, no first-run work. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

if (!existsSync(CHROMIUM)) {
  skipSuite(t, 'browser test of /docs', `no Chromium at ${CHROMIUM} (apt-get install chromium, as .ci/run does, or set CHROMIUM_PATH)`)
} else {
  t.test('the /docs explorer works in a real browser, under the CSP', { timeout: 90_000 }, async (t) => {
    const { chromium } = await import('playwright-core')
    const app = await build(t)
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    const profile = mkdtempSync(path.join(tmpdir(), 'bookstore-chromium-'))
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS })
    t.teardown(async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`) })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
    // A CSP violation is a console error in Chromium; the event names the directive as well.
    // (Page scripts as text: this project compiles without the DOM's types.)
    await page.addInitScript({
      content: "document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`))"
    })

    const response = await page.goto(`${address}/docs`)
    t.equal(response?.status(), 200, 'GET /docs')
    t.match(response?.headers()['content-security-policy'], /script-src 'self'/, 'served under the CSP')
    await page.locator('.swagger-ui .opblock').first().waitFor()

    /** Expands an operation, fills its body (if given) through "Try it out", executes it: its status and body text. */
    async function tryItOut (operationId: string, tag: string, body?: unknown): Promise<{ status: string, text: string }> {
      const op = page.locator(`#operations-${tag}-${operationId}`)
      if (!(await op.locator('.try-out__btn').isVisible())) await op.locator('.opblock-summary').first().click()
      await op.locator('.try-out__btn').click()
      if (body !== undefined) await op.locator('textarea.body-param__text').fill(JSON.stringify(body))
      await op.locator('button.execute').click()
      const status = op.locator('.live-responses-table .response .response-col_status').first()
      await status.waitFor()
      const text = await op.locator('.live-responses-table .response-col_description pre').first().innerText()
      return { status: (await status.innerText()).trim(), text }
    }

    const email = uniqueEmail('browser')
    const signUp = await tryItOut('postUsers', 'users', { email, password: 'a browser made this passphrase' })
    t.equal(signUp.status, '201', 'step 1: sign up through "Try it out"')
    t.equal(JSON.parse(signUp.text).email, email)

    const signIn = await tryItOut('postUsersSignIn', 'users', { email: ADMIN.email, password: ADMIN.password })
    t.equal(signIn.status, '200', 'step 2: sign in as the bootstrap Admin')
    const token = (JSON.parse(signIn.text) as { token: string }).token
    t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT')

    await page.locator('.auth-wrapper .btn.authorize').click()
    await page.locator('.modal-ux input[type=text], .modal-ux input:not([type])').first().fill(token)
    await page.locator('.modal-ux .auth-btn-wrapper button.authorize').click()
    await page.locator('.modal-ux .btn-done').click()
    // Swagger UI marks its Authorize button "locked" once a scheme holds a value.
    t.equal(await page.locator('.auth-wrapper .btn.authorize.locked').count(), 1, 'step 3: authorized with the token (the Authorize dialog)')

    const created = await tryItOut('postBooks', 'books')
    t.equal(created.status, '201', 'step 4: create a book with the example body')
    const book = JSON.parse(created.text) as { id: number, title: string }
    t.equal(book.title, 'Pride and Prejudice')
    t.equal((await app.inject({ url: `/books/${book.id}` })).statusCode, 200, 'the book is stored')

    t.same(problems, [], 'step 5: no console error, no CSP violation')

    // The control: an inline script, which the CSP forbids, must show up as a problem, so the
    // check above could have failed.
    await page.evaluate("const s = document.createElement('script'); s.textContent = 'window.inlineRan = true'; document.body.appendChild(s)")
    await page.waitForTimeout(200)
    t.ok(problems.some((p) => /CSP violation: script-src/.test(p)), `an inline script is reported (${problems.length} problem(s))`)
    t.equal(await page.evaluate('window.inlineRan'), undefined, 'and did not run')
  })
}
