import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'

/**
 * setpriv (util-linux) execs redis-server with a parent-death signal: if the test process is
 * killed (a tap timeout), its server dies with it instead of lingering. Same pid, so the
 * test's SIGSTOP/SIGKILL still reach redis-server itself.
 */
const PDEATHSIG = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0
  ? ['setpriv', '--pdeathsig', 'KILL']
  : []

/** Whether a `redis-server` binary is on PATH (Debian's package, or `npm run services`). */
export function redisServerAvailable (): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
}

/** A port nothing listens on right now (the kernel picks it). */
export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}

export interface ThrowawayRedis {
  port: number
  url: string
  /** (Re)starts the server on the same port; resolves once it accepts connections. */
  start (): Promise<void>
  /** Sends a signal to the current process (SIGSTOP freezes it, SIGKILL kills it). */
  signal (signal: NodeJS.Signals): void
  /** Kills it (SIGKILL) and waits for the exit. */
  kill (): Promise<void>
}

const alive = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of alive) child.kill('SIGKILL')
})

/**
 * A private redis-server on a free loopback port, with no persistence, so a test may freeze
 * or kill it without disturbing the shared one. Killed when the test process exits, or dies.
 */
export async function throwawayRedis (): Promise<ThrowawayRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined

  const start = async (): Promise<void> => {
    const [command = 'redis-server', ...prefix] = [...PDEATHSIG, 'redis-server']
    const proc = spawn(command, [...prefix,
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--protected-mode', 'yes'
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    alive.add(proc)
    proc.once('exit', () => alive.delete(proc))
    await new Promise<void>((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => reject(new Error(`redis-server on ${port} did not start: ${output}`)), 10_000)
      const onData = (chunk: Buffer): void => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          // Keep draining its output (a full pipe would block the server), but stop keeping it.
          proc.stdout?.off('data', onData).resume()
          proc.stderr?.off('data', onData).resume()
          resolve()
        }
      }
      proc.stdout?.on('data', onData)
      proc.stderr?.on('data', onData)
      proc.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server on ${port} exited with ${String(code)}: ${output}`))
      })
    })
  }

  const kill = async (): Promise<void> => {
    const proc = child
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }

  await start()
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    start,
    signal (signal) {
      child?.kill(signal)
    },
    kill
  }
}
