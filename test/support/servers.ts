import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import mysql from 'mysql2/promise'

/**
 * Private server processes (MariaDB, FerretDB, Redis) on free loopback ports, so a test can
 * freeze (SIGSTOP), kill and restart one without disturbing the shared services other tests use;
 * and scratch databases of a test's own on a shared server.
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

function throwaway (port: number, url: string, command: string, args: string[], cleanup: () => void = () => {}): Throwaway {
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

/** A private MariaDB with its own data directory: an empty `bookstore` database for user bookstore, who may also create `bookstore_test…` ones. */
export async function throwawayMariadb (): Promise<Throwaway> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-mariadb-'))
  const datadir = path.join(dir, 'data')
  const socket = path.join(dir, 'mysqld.sock')
  const install = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'], { encoding: 'utf8' })
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`)
  const server = throwaway(port, `mysql://bookstore:bookstore@127.0.0.1:${port}/bookstore`, 'mariadbd', [
    '--no-defaults', `--datadir=${datadir}`, `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
    '--user=root', '--skip-grant-tables=0', '--innodb-buffer-pool-size=16M', '--skip-log-bin', `--pid-file=${path.join(dir, 'pid')}`
  ], () => rmSync(dir, { recursive: true, force: true }))
  await server.start()
  const setup = spawnSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-e',
    "CREATE DATABASE bookstore CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; CREATE USER 'bookstore'@'127.0.0.1' IDENTIFIED BY 'bookstore'; CREATE USER 'bookstore'@'localhost' IDENTIFIED BY 'bookstore'; GRANT ALL ON bookstore.* TO 'bookstore'@'127.0.0.1'; GRANT ALL ON bookstore.* TO 'bookstore'@'localhost'; GRANT ALL ON `bookstore\\_test%`.* TO 'bookstore'@'127.0.0.1', 'bookstore'@'localhost';"],
  { encoding: 'utf8' })
  if (setup.status !== 0) throw new Error(`mariadb setup failed: ${setup.stderr}`)
  return server
}

/** A private FerretDB (SQLite handler) in a temporary folder. */
export async function throwawayFerretdb (): Promise<Throwaway> {
  const port = await freePort()
  const debugPort = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-ferretdb-'))
  const server = throwaway(port, `mongodb://127.0.0.1:${port}/bookstore`, 'ferretdb', [
    '--handler=sqlite', `--sqlite-url=file:${dir}/`, `--listen-addr=127.0.0.1:${port}`, `--state-dir=${dir}`,
    `--debug-addr=127.0.0.1:${debugPort}`, '--telemetry=disable', '--log-level=error'
  ], () => rmSync(dir, { recursive: true, force: true }))
  await server.start()
  return server
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

/** A database name of one test's own: `bookstore_test_` and 12 random hex digits. */
export const scratchName = (): string => `bookstore_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`

/**
 * A database of its own on the MySQL server `serverUrl` names, so tests sharing the server
 * never see each other's rows: its name, its URL, and drop() to remove it afterwards.
 */
export async function scratchMysql (serverUrl: string): Promise<{ name: string, url: string, drop: () => Promise<void> }> {
  const name = scratchName()
  const run = async (sql: string): Promise<void> => {
    const conn = await mysql.createConnection(serverUrl)
    try {
      await conn.query(sql)
    } finally {
      await conn.end()
    }
  }
  await run(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS \`${name}\``) }
}
