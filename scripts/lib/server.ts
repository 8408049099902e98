/**
 * The service in a process of its own, started the way `npm start` and the Dockerfile's CMD
 * start it, on a free port: the one "start the server and wait until it answers" of the
 * benchmarks, the shell scripts (through scripts/with-server.ts) and the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import path from 'node:path'
import { projectRoot } from '../../config/paths'
import { freePort } from './throwaway'

export interface ServerOptions {
  /** Added to the server's environment; an undefined value removes that variable. */
  env?: NodeJS.ProcessEnv
  /** false: start from PATH alone instead of this process's environment, so nothing leaks in. */
  inheritEnv?: boolean
  /** The compiled server: dist/src/server.js unless said (the tests compile to dist-test/). */
  script?: string
  /** Node's flags before the script: `npm start`'s unless said, so what runs is what production runs. */
  nodeFlags?: string[]
  /** Rewrites the command line (a benchmark pins the server to a core). */
  wrap?: (command: string, argv: string[]) => [string, string[]]
  /** Where to listen: a free port unless said (a restarted instance takes its predecessor's place behind a proxy). */
  port?: number
  /** The path that answers 2xx once the server may be used. */
  ready?: string
  timeoutMs?: number
  /**
   * stdout ignored, written to a file, or kept with stderr for output(); stderr otherwise
   * goes to this process's, so a crash is seen.
   */
  output?: 'ignore' | 'capture' | { file: string }
}

export interface Exit { code: number | null, signal: NodeJS.Signals | null, msAfterKill: number }

export interface Server {
  url: string
  port: number
  child: ChildProcess
  /** Sends a signal; `exited` then says how the process ended and how long after the signal. */
  kill (signal: NodeJS.Signals): void
  exited: Promise<Exit>
  /** What the server wrote, with output: 'capture'. */
  output (): string
  /** stopProcess(child), then how it ended. */
  stop (): Promise<Exit>
}

/** The Node flags of package.json's `start` script: node FLAGS dist/src/server.js. */
export function startFlags (root = projectRoot): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  const words = (scripts.start ?? '').split(/\s+/)
  return words.slice(1, words.indexOf('dist/src/server.js')).filter((word) => word.startsWith('--'))
}

/** Resolves once `url` answers 2xx; fails if `child` exits first or the time runs out. */
export async function waitForHttp (url: string, child?: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${url}: the server exited (${child.exitCode ?? child.signalCode})`)
    }
    if (await fetch(url).then((res) => res.ok, () => false)) return
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** SIGTERM (a graceful close), SIGKILL if the process is still there 5 s later; resolves on its exit. */
export async function stopProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

// A server must not outlive the script that started it, whatever way that script ends.
const alive = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of alive) child.kill('SIGKILL')
})

export async function startServer (options: ServerOptions = {}): Promise<Server> {
  const { output = 'ignore', wrap = (command, argv) => [command, argv] } = options
  const port = options.port ?? await freePort()
  const base = options.inheritEnv === false ? { PATH: process.env.PATH } : process.env
  const script = options.script ?? path.join(projectRoot, 'dist', 'src', 'server.js')
  const [command, argv] = wrap(process.execPath, [...(options.nodeFlags ?? startFlags()), script])
  const child = spawn(command, argv, {
    cwd: projectRoot,
    env: { ...base, ...options.env, PORT: String(port) },
    stdio: ['ignore', output === 'ignore' ? 'ignore' : 'pipe', output === 'capture' ? 'pipe' : 'inherit']
  })
  alive.add(child)
  let log = ''
  if (output === 'capture') {
    child.stdout?.on('data', (chunk: Buffer) => { log += chunk.toString() })
    child.stderr?.on('data', (chunk: Buffer) => { log += chunk.toString() })
  } else if (output !== 'ignore') {
    child.stdout?.pipe(createWriteStream(output.file))
  }
  let killedAt = 0
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      alive.delete(child)
      resolve({ code, signal, msAfterKill: Date.now() - killedAt })
    })
  })
  const kill = (signal: NodeJS.Signals): void => {
    killedAt = Date.now()
    child.kill(signal)
  }
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${url}${options.ready ?? '/health/ready'}`, child, options.timeoutMs)
  } catch (err) {
    kill('SIGKILL')
    throw new Error(`${err instanceof Error ? err.message : String(err)}${log === '' ? '' : `\n${log}`}`)
  }
  return {
    url,
    port,
    child,
    kill,
    exited,
    output: () => log,
    async stop () {
      killedAt = Date.now()
      await stopProcess(child)
      return exited
    }
  }
}
