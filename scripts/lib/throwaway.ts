import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

/** The first port of the kernel's ephemeral range: where outgoing connections take their local ports. */
function ephemeralLow (): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768
  } catch {
    return 32768
  }
}

const EPHEMERAL_LOW = ephemeralLow()
const LOWEST = 10_000
/** Every port handed out by this process: a server given one may not have bound it yet. */
const given = new Set<number>()

/** Listens on `port` (0: one the kernel picks) and closes again: the port it got, or undefined if taken. */
async function tryPort (port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer()
    server.unref()
    server.once('error', () => resolve(undefined))
    server.listen(port, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(address !== null && typeof address === 'object' ? address.port : undefined))
    })
  })
}

/**
 * A port nothing listens on right now, for a server about to start. Drawn at random below the
 * kernel's ephemeral range, not from it (as listen(0) would): between this answer and the
 * server's bind, any outgoing connection on the machine may take an ephemeral port as its own,
 * and the server then fails to start. Never the same port twice in one process. Where the range
 * leaves no room below it, or nothing there is free, the kernel picks.
 */
export async function freePort (): Promise<number> {
  for (let tries = 0; tries < 200 && EPHEMERAL_LOW - LOWEST >= 1000; tries++) {
    const port = LOWEST + Math.floor(Math.random() * (EPHEMERAL_LOW - LOWEST))
    if (given.has(port)) continue
    given.add(port)
    if (await tryPort(port) !== undefined) return port
  }
  const port = await tryPort(0)
  if (port === undefined) throw new Error('no free port')
  return port
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

/**
 * The threads of `pid` not stopped, as `tid:state` from /proc (a thread gone meanwhile is not
 * counted); empty where there is no /proc or no such process.
 */
export function unstoppedThreads (pid: number): string[] {
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  return tids.flatMap((tid) => {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    } catch {
      return []
    }
    const state = stat[stat.lastIndexOf(')') + 2]
    return state === 'T' ? [] : [`${tid}:${state ?? '?'}`]
  })
}

/**
 * Returns once every thread of `pid` is stopped, looking every millisecond for 2 s at most.
 * Each thread acts on a SIGSTOP as it next runs, so a server signalled a moment ago may still
 * answer a request sent right after (seen once in CI: a "frozen" FerretDB answered 6 ms later).
 * It blocks, as a freeze is meant to be in place when signal() returns.
 */
function awaitStopped (pid: number): void {
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (const deadline = Date.now() + 2000; Date.now() < deadline; Atomics.wait(pause, 0, 0, 1)) {
    if (unstoppedThreads(pid).length === 0) return
  }
}

export interface Throwaway {
  port: number
  url: string
  /** (Re)starts the server on the same port; resolves once it accepts connections. */
  start (): Promise<void>
  /** The server's process id, once started. */
  pid (): number | undefined
  /** Sends a signal to the server (SIGSTOP freezes it, every thread stopped on return; SIGCONT thaws it). */
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
    pid: () => child?.pid,
    signal (signal) {
      child?.kill(signal)
      if (signal === 'SIGSTOP' && child?.pid !== undefined) awaitStopped(child.pid)
    },
    kill,
    async dispose () {
      await kill()
      cleanup()
    }
  }
}

/**
 * The first arguments of every private MariaDB (server and mariadb-install-db): no option
 * files, its data directory, and a temporary directory of its own. A MariaDB that starts
 * removes every `#sql…` file of its temporary directory: in a shared /tmp, those are the
 * temporary tables of the other servers and installs under way, whose statements then fail.
 */
export function mariadbFiles (datadir: string, tmp: string): string[] {
  mkdirSync(tmp, { recursive: true })
  return ['--no-defaults', `--datadir=${datadir}`, `--tmpdir=${tmp}`]
}

/** An empty MariaDB data directory: root by socket, no test database. Throws with the tool's output. */
export function installMariadb (datadir: string, tmp: string): void {
  const install = spawnSync('mariadb-install-db', [...mariadbFiles(datadir, tmp), '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root'],
    { encoding: 'utf8' })
  if (install.status !== 0) throw new Error(`mariadb-install-db failed: ${install.stderr}`)
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

/** Runs `redis-cli -p <port> <args>` and returns its output (throws on failure). */
export function redisCli (port: number, args: string[], timeoutMs = 2000): string {
  // Short by default: spawnSync holds the caller's event loop for as long as a frozen server keeps it waiting.
  const run = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', timeout: timeoutMs })
  if (run.status !== 0) throw new Error(`redis-cli ${args.join(' ')} on ${port}: ${run.stderr || run.stdout}`)
  return run.stdout
}

/** Waits until `check` holds, polling; throws naming `what` after `ms`. */
export async function until (what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    let ok = false
    try { ok = check() } catch { ok = false }
    if (ok) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** A node of a throwaway Sentinel setup or Cluster: a redis-server on a free port. */
async function redisNode (dir: string, extra: string[]): Promise<Throwaway> {
  const port = await freePort()
  // A folder each: a replica's full sync writes dump.rdb, which two nodes must not share.
  const own = path.join(dir, String(port))
  mkdirSync(own)
  return throwaway(port, `redis://127.0.0.1:${port}/0`, 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', own,
    '--daemonize', 'no', ...extra
  ])
}

export interface ThrowawaySentinel {
  /** The monitored master's name (REDIS_SENTINEL_NAME). */
  readonly name: string
  /** REDIS_SENTINELS: the three sentinels' `host:port`. */
  readonly sentinelsSetting: string
  /** The master at start, then its replica. */
  readonly servers: readonly Throwaway[]
  readonly sentinels: readonly Throwaway[]
  /** The server the Sentinels currently call master. */
  master (): Throwaway
  /** Resolves once every Sentinel names a master other than `old`, and that master says it is one; returns it. */
  promoted (old: Throwaway, ms?: number): Promise<Throwaway>
  dispose (): Promise<void>
}

/**
 * A master, one replica and three Sentinels (quorum 2), all on loopback, with short timings so
 * a failover takes a few seconds: a master silent for `downAfterMs` is down, and the promotion
 * of its replica follows.
 */
export async function throwawaySentinel ({ downAfterMs = 1000, failoverTimeoutMs = 3000 } = {}): Promise<ThrowawaySentinel> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-sentinel-'))
  const name = 'bookstore-main'
  const master = await redisNode(dir, [])
  await master.start()
  const replica = await redisNode(dir, ['--replicaof', '127.0.0.1', String(master.port)])
  await replica.start()
  const servers = [master, replica]
  const sentinels: Throwaway[] = []
  try {
    await until('the replica to sync', () => redisCli(replica.port, ['info', 'replication']).includes('master_link_status:up'))
    for (let i = 0; i < 3; i++) {
      const port = await freePort()
      const conf = path.join(dir, `sentinel-${port}.conf`)
      // Sentinel rewrites its config file as it learns the topology, so each has its own.
      writeFileSync(conf, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${name} 1`, ''
      ].join('\n'))
      const sentinel = throwaway(port, `redis://127.0.0.1:${port}`, 'redis-server', [conf, '--sentinel'])
      sentinels.push(sentinel)
      await sentinel.start()
    }
    // Ready for a failover once each Sentinel knows the replica and the two other Sentinels.
    await until('the sentinels to see the replica and each other', () => sentinels.every((s) =>
      redisCli(s.port, ['sentinel', 'replicas', name]).includes(String(replica.port)) &&
      redisCli(s.port, ['sentinel', 'sentinels', name]).split('\n').filter((line) => line === 'runid').length === 2))
  } catch (err) {
    for (const server of [...servers, ...sentinels]) await server.kill()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const masterPort = (sentinel: Throwaway): number => Number(redisCli(sentinel.port, ['sentinel', 'get-master-addr-by-name', name]).split('\n')[1])
  const byPort = (port: number): Throwaway => {
    const server = servers.find((s) => s.port === port)
    if (server === undefined) throw new Error(`no server on ${port}`)
    return server
  }
  return {
    name,
    sentinelsSetting: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
    servers,
    sentinels,
    master: () => byPort(masterPort(sentinels[0] ?? master)),
    async promoted (old, ms = 30_000) {
      await until('a promotion', () => sentinels.every((s) => masterPort(s) !== old.port) &&
        redisCli(masterPort(sentinels[0] ?? master), ['role']).startsWith('master'), ms)
      return byPort(masterPort(sentinels[0] ?? master))
    },
    async dispose () {
      for (const server of [...sentinels, ...servers]) await server.kill()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface ThrowawayCluster {
  /** REDIS_CLUSTER_NODES: every node's `host:port`. */
  readonly nodesSetting: string
  readonly nodes: readonly Throwaway[]
  /** The node serving `slot` as master now, as the nodes themselves say. */
  masterOf (slot: number): Throwaway
  /** The replica of `master`, once the Cluster lists one. */
  replicaOf (master: Throwaway): Promise<Throwaway>
  /** Resolves once `slot` is served by a master other than `old` and the cluster is ok; returns it. */
  takenOver (slot: number, old: Throwaway, ms?: number): Promise<Throwaway>
  dispose (): Promise<void>
}

/** Six nodes (three masters, a replica each) made one Cluster by `redis-cli --cluster create`. */
export async function throwawayCluster ({ nodeTimeoutMs = 1000 } = {}): Promise<ThrowawayCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-cluster-'))
  const nodes: Throwaway[] = []
  try {
    for (let i = 0; i < 6; i++) {
      // The bus port is named, not port + 10000, which may lie past 65535 or be taken.
      const busPort = await freePort()
      const node = await redisNode(dir, [
        '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort),
        '--cluster-node-timeout', String(nodeTimeoutMs)
      ])
      nodes.push(node)
      await node.start()
    }
    // `--cluster create` polls once a second until every node has joined: seconds on a loaded machine.
    redisCli(nodes[0]?.port ?? 0, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], 30_000)
    await until('the cluster to be ok', () => nodes.every((n) => redisCli(n.port, ['cluster', 'info']).includes('cluster_state:ok')))
  } catch (err) {
    for (const node of nodes) await node.kill()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const byPort = (port: number): Throwaway => {
    const node = nodes.find((n) => n.port === port)
    if (node === undefined) throw new Error(`no node on ${port}`)
    return node
  }
  /** CLUSTER SHARDS is 7.0+; CLUSTER SLOTS answers on every version: lines of start, end, then master ip, port, id, then replicas. */
  const slots = (from: Throwaway): Array<{ start: number, end: number, ports: number[] }> => {
    const out = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(from.port), '--json', 'cluster', 'slots'], { encoding: 'utf8', timeout: 2000 })
    const rows = JSON.parse(out.stdout) as Array<[number, number, ...Array<[string, number, string]>]>
    return rows.map(([start, end, ...served]) => ({ start, end, ports: served.map((s) => s[1]) }))
  }
  // spawnSync blocks the caller's event loop (and a load running in it) while a frozen node
  // does not answer: the node known to be frozen or dead is never asked.
  const askable = (skip?: Throwaway): Throwaway => {
    for (const node of nodes) {
      if (node === skip) continue
      try {
        if (redisCli(node.port, ['cluster', 'info']).includes('cluster_state:ok')) return node
      } catch {
        // A killed or frozen node: ask the next.
      }
    }
    throw new Error('no node answers')
  }
  const masterOf = (slot: number, skip?: Throwaway): Throwaway => {
    const range = slots(askable(skip)).find((r) => r.start <= slot && slot <= r.end)
    return byPort(range?.ports[0] ?? 0)
  }
  return {
    nodesSetting: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    nodes,
    masterOf,
    async replicaOf (master) {
      // Just after `--cluster create` or a restart, a node may not list the replica yet.
      let port: number | undefined
      await until('the master to list a replica', () => {
        port = slots(askable()).find((r) => r.ports[0] === master.port)?.ports[1]
        return port !== undefined
      })
      return byPort(port ?? 0)
    },
    async takenOver (slot, old, ms = 30_000) {
      let now: Throwaway | undefined
      await until('a replica to take the slot over', () => {
        now = masterOf(slot, old)
        return now !== old
      }, ms)
      if (now === undefined) throw new Error('no master')
      return now
    },
    async dispose () {
      for (const node of nodes) await node.kill()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
