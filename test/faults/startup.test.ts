import { spawn } from 'node:child_process'
import path from 'node:path'
import t, { type Test } from 'tap'
import { projectRoot } from '../../config/paths'
import { freePort } from '../support/servers'

/**
 * The real server process (the compiled src/server.js `npm start` runs) pointed at a database
 * nothing answers: the start-up wait is bounded by STARTUP_WAIT_SECONDS, says one short line
 * per attempt and one final line, and a signal during the wait ends the process at once.
 * It uses only its own process and a port nobody listens on.
 */

const PASSWORD = 'never-logged-4f1d'

interface Started {
  lines: () => string
  errors: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>
  kill: (signal: NodeJS.Signals) => void
  /** Resolves once stdout holds `text`. */
  saw: (text: string) => Promise<void>
}

async function start (t: Test, env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, [path.join(projectRoot, 'dist-test', 'src', 'server.js')], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH, PORT: String(await freePort()), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  const waiting: Array<() => void> = []
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); for (const wake of waiting.splice(0)) wake() })
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() }))
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return {
    lines: () => out,
    errors: () => err,
    exited,
    kill: (signal) => child.kill(signal),
    async saw (text) {
      while (!out.includes(text)) await new Promise<void>((resolve) => waiting.push(resolve))
    }
  }
}

t.test('an unreachable DATABASE_URL: one short line per attempt, a final line and exit 1 after STARTUP_WAIT_SECONDS', { timeout: 30_000 }, async (t) => {
  const port = await freePort()
  const started = performance.now()
  const server = await start(t, { DATABASE_URL: `mysql://u:${PASSWORD}@127.0.0.1:${port}/x`, STARTUP_WAIT_SECONDS: '2' })
  const { code, at } = await server.exited
  const seconds = (at - started) / 1000
  t.equal(code, 1)
  t.ok(seconds >= 2 && seconds < 6, `exited after the 2 s wait (${seconds.toFixed(1)} s, node's start included)`)
  t.equal(server.errors(), `start-up failed: gave up on mysql at 127.0.0.1:${port} after 2 s (ECONNREFUSED)\n`)
  const attempts = server.lines().trim().split('\n').map((line) => JSON.parse(line) as { level: number, msg: string, stack?: unknown })
    .filter((line) => line.msg.includes('not answering'))
  t.ok(attempts.length >= 3 && attempts.length <= 5, `a line per attempt (${attempts.length})`)
  t.match(attempts[0], { level: 40, msg: `mysql 127.0.0.1:${port} not answering (ECONNREFUSED), attempt 1; retrying in 250 ms` })
  t.notOk(server.lines().includes('stack'), 'no stack')
  t.notOk(server.lines().includes(PASSWORD) || server.errors().includes(PASSWORD), 'never the password')
})

for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  t.test(`${signal} during the wait ends the process at once`, { timeout: 30_000 }, async (t) => {
    const port = await freePort()
    const server = await start(t, { DATABASE_URL: `mysql://u:${PASSWORD}@127.0.0.1:${port}/x`, STARTUP_WAIT_SECONDS: '60' })
    await server.saw('attempt 2;')
    const sent = performance.now()
    server.kill(signal)
    const { code, at } = await server.exited
    t.equal(code, status, `exit ${status} (128 + the signal's number)`)
    t.ok(at - sent < 1000, `within a second of the signal (${Math.round(at - sent)} ms), not after the 10 s grace`)
    t.equal(server.errors(), `start-up stopped by ${signal}\n`)
  })
}
