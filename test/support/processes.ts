import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { stringify } from 'yaml'
import { projectRoot } from '../../config/paths'
import type { Settings } from '../../config/schema'
import { ADMIN } from './app'
import { startServer, type Server } from '../../scripts/lib/server'

/**
 * The real server process (scripts/lib/server.ts, compiled with the tests into dist-test/) on
 * a free port, in-memory SQLite, with `settings` written to a CONFIG_FILE (the YAML-only
 * settings such as shutdownGraceMs) and `env` over the environment it is given (which wins
 * over the file; its PORT, when given, is where it listens); killed when the test ends.
 */
export async function serve (t: Test, settings: Partial<Settings> = {}, env: Record<string, string> = {}): Promise<Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-ops-'))
  const file = path.join(dir, 'config.yml')
  writeFileSync(file, stringify(settings))
  const server = await startServer({
    script: path.join(projectRoot, 'dist-test', 'src', 'server.js'),
    nodeFlags: [],
    inheritEnv: false,
    ready: '/health/live',
    timeoutMs: 20_000,
    output: 'capture',
    ...(env.PORT === undefined ? {} : { port: Number(env.PORT) }),
    env: { CONFIG_FILE: file, DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'info', ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, ...env }
  })
  t.teardown(async () => {
    server.kill('SIGKILL')
    await server.exited
    rmSync(dir, { recursive: true, force: true })
  })
  return server
}

export interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: string
  /** Whether the server closed the connection after the answer. */
  closed: boolean
}

/** Parses the first HTTP/1.1 answer in `text` (Content-Length bodies only, which is all this API sends). */
export function parseAnswer (text: string, closed: boolean): RawAnswer | undefined {
  const end = text.indexOf('\r\n\r\n')
  if (end === -1) return undefined
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const length = Number(headers['content-length'] ?? 0)
  const body = text.slice(end + 4, end + 4 + length)
  if (Buffer.byteLength(body) < length) return undefined
  return { status: Number(statusLine.split(' ')[1]), headers, body, closed }
}

/** A raw TCP connection: write bytes when the test says, read the first answer, see the close. */
export interface RawConnection {
  socket: Socket
  write (text: string): void
  /** Resolves with the first whole answer (or undefined if the connection ended without one), and when it arrived. */
  answer (): Promise<{ answer: RawAnswer | undefined, at: number }>
  /** Resolves when the server closes the connection, with when. */
  closed: Promise<number>
}

export async function rawConnection (port: number): Promise<RawConnection> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let text = ''
  let ended = false
  const waiting: Array<() => void> = []
  const wake = (): void => { for (const w of waiting.splice(0)) w() }
  socket.on('data', (chunk: Buffer) => { text += chunk.toString(); wake() })
  socket.on('error', () => {})
  const closed = new Promise<number>((resolve) => socket.once('close', () => { ended = true; wake(); resolve(Date.now()) }))
  return {
    socket,
    closed,
    write (chunk) { socket.write(chunk) },
    async answer () {
      for (;;) {
        const parsed = parseAnswer(text, ended)
        if (parsed !== undefined || ended) {
          const at = Date.now()
          // A close right behind the answer counts as closing with it.
          if (parsed !== undefined && !ended) await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 200))])
          return { answer: parsed === undefined ? undefined : { ...parsed, closed: ended }, at }
        }
        await new Promise<void>((resolve) => waiting.push(resolve))
      }
    }
  }
}
