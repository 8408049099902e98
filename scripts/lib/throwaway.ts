import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'

/**
 * Private server processes on free loopback ports, so a test or a benchmark can freeze
 * (SIGSTOP), kill and restart one without disturbing the shared services others use.
 * `throwaway` starts any such server; Redis is here because a benchmark needs one too.
 */

/** Whether `cmd --version` runs: the binary is on PATH (Debian's package, or `npm run services`). */
export function binaryAvailable (cmd: string): boolean {
  const probe = spawnSync(cmd, ['--version'], { stdio: 'ignore' })
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

/**
 * setpriv (util-linux) execs the server with a parent-death signal: if the test process is
 * killed (a tap timeout), its servers die with it instead of lingering. Same pid, so the
 * test's SIGSTOP/SIGKILL still reach the server itself.
 */
const PDEATHSIG = binaryAvailable('setpriv') ? ['setpriv', '--pdeathsig', 'KILL'] : []

const alive = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of alive) child.kill('SIGKILL')
})

async function portOpen (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

export interface Throwaway {
  port: number
  url: string
  /** (Re)starts the server on the same port; resolves once it accepts connections. */
  start (): Promise<void>
  /** Sends a signal to the server (SIGSTOP freezes it, SIGCONT thaws it). */
  signal (signal: NodeJS.Signals): void
  /** SIGKILL, and waits for the exit; any data stays, so start() brings the same server back. */
  kill (): Promise<void>
  /** Kills it and removes its data. */
  dispose (): Promise<void>
}

export function throwaway (port: number, url: string, command: string, args: string[], cleanup: () => void = () => {}): Throwaway {
  let child: ChildProcess | undefined
  const kill = async (): Promise<void> => {
    const proc = child
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return
    proc.kill('SIGCONT')
    proc.kill('SIGKILL')
    await new Promise((resolve) => proc.once('exit', resolve))
  }
  return {
    port,
    url,
    async start () {
      const [exe = command, ...prefix] = [...PDEATHSIG, command]
      const proc = spawn(exe, [...prefix, ...args], { stdio: 'ignore' })
      child = proc
      alive.add(proc)
      proc.once('exit', () => alive.delete(proc))
      const deadline = Date.now() + 30_000
      while (!(await portOpen(port))) {
        if (proc.exitCode !== null) throw new Error(`${command} exited with ${proc.exitCode}`)
        if (Date.now() > deadline) throw new Error(`${command} did not listen on ${port}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    },
    signal (signal) {
      child?.kill(signal)
    },
    kill,
    async dispose () {
      await kill()
      cleanup()
    }
  }
}

export interface ThrowawayRedis extends Throwaway {
  /** With `appendOnly`: the folder holding its AOF (appendonlydir/), which start() replays. */
  readonly dir: string | undefined
  /**
   * With `appendOnly`: a copy of its AOF as it is now (the server must be stopped or the
   * copy may catch a half-written record: kill() first). restore() puts it back.
   */
  snapshot (): string
  /** Replaces its data with a snapshot (while it is stopped), as a restore from backup would. */
  restore (snapshot: string): void
}

export interface ThrowawayRedisOptions {
  /**
   * Persist every write to an append-only file in a folder of its own (fsync on each), so a
   * kill() then start() restores the data as it was, old entries included: what a Redis
   * run with `--appendonly yes` (the compose file) does after a crash.
   */
  appendOnly?: boolean
}

/**
 * A private redis-server. Without options: no persistence, so a restart comes back empty.
 * With `appendOnly: true`: an AOF in a temporary folder, fsynced on every write, so start()
 * after kill() comes back with every key it had acknowledged (what the compose file's
 * `--appendonly yes` Redis does after a crash), and snapshot()/restore() bring back an older
 * state (a restore from backup).
 */
export async function throwawayRedis ({ appendOnly = false }: ThrowawayRedisOptions = {}): Promise<ThrowawayRedis> {
  const port = await freePort()
  const dir = appendOnly ? mkdtempSync(path.join(tmpdir(), 'bookstore-redis-')) : undefined
  const persistence = dir === undefined
    ? ['--appendonly', 'no']
    : ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--aof-use-rdb-preamble', 'no']
  const server = throwaway(port, `redis://127.0.0.1:${port}/0`, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence,
    '--daemonize', 'no', '--protected-mode', 'yes'
  ], () => { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }) })
  const snapshots: string[] = []
  const needDir = (): string => {
    if (dir === undefined) throw new Error('this Redis was started without appendOnly')
    return dir
  }
  await server.start()
  return {
    ...server,
    dir,
    snapshot () {
      const copy = mkdtempSync(path.join(tmpdir(), 'bookstore-redis-snapshot-'))
      cpSync(needDir(), copy, { recursive: true })
      snapshots.push(copy)
      return copy
    },
    restore (snapshot) {
      const target = needDir()
      rmSync(target, { recursive: true, force: true })
      cpSync(snapshot, target, { recursive: true })
    },
    async dispose () {
      await server.dispose()
      for (const copy of snapshots) rmSync(copy, { recursive: true, force: true })
    }
  }
}
