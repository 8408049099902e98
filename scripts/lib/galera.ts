import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { binaryAvailable, freePort, installMariadb, mariadbFiles, throwaway, until, type Throwaway } from './throwaway'

/**
 * A MariaDB Galera cluster of private mariadbd processes on loopback (Debian's mariadb-server
 * and galera-4), so a test can race writes through two nodes, and kill or freeze one, without
 * touching the shared MariaDB.
 */

export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so'

/** Why a Galera cluster cannot be started here, or undefined when it can. */
export function galeraMissing (): string | undefined {
  if (!binaryAvailable('mariadbd')) return 'mariadbd is not installed (Debian: apt-get install mariadb-server)'
  if (!binaryAvailable('mariadb-install-db')) return 'mariadb-install-db is not installed (Debian: apt-get install mariadb-server)'
  if (!existsSync(GALERA_PROVIDER)) return `${GALERA_PROVIDER} is missing (Debian: apt-get install galera-4)`
  if (!binaryAvailable('rsync')) return 'rsync is not installed (Galera state transfers use it: apt-get install rsync)'
  return undefined
}

export interface GaleraNode extends Throwaway {
  readonly name: string
  /** mysql:// URL of database `bookstore` on this node, as the app user. */
  readonly url: string
  /** The same server, another database of the app user's (`bookstore…` names only). */
  urlFor (database: string): string
  /** Runs SQL as root over the node's socket; returns the tab-separated rows (throws on failure). */
  sql (statement: string): string
  /** wsrep_local_state_comment: Synced, Donor/Desynced, Joining... */
  state (): string
  /** wsrep_cluster_size as this node sees it. */
  clusterSize (): number
}

export interface ThrowawayGalera {
  readonly nodes: readonly GaleraNode[]
  /** How long the cluster took to start, in ms (every node synced). */
  readonly startMs: number
  /** Resolves once every node but `except` says Synced in a cluster of their number. */
  settled (except?: readonly GaleraNode[], ms?: number): Promise<void>
  close (): Promise<void>
}

/**
 * `nodes` mariadbd processes forming one Galera cluster, each with its own data directory,
 * SQL port, group-communication port, IST port and SST port on 127.0.0.1; database
 * `bookstore` and user bookstore:bookstore (who may also create `bookstore…` databases).
 *
 * A full state transfer (SST) would need the rsync daemon to write the joiner's data
 * directory as nobody, and costs seconds: instead one seed directory is made, bootstrapped
 * once as a one-node cluster (so InnoDB and grastate.dat agree on a cluster position) and
 * copied to every node. The first copy bootstraps the cluster again; the others join at the
 * same position and only receive the few view changes since by IST.
 *
 * Durability is traded for speed (no fsync, a small buffer pool): the data is thrown away.
 */
export async function throwawayGalera ({ nodes: count = 3 } = {}): Promise<ThrowawayGalera> {
  const started = Date.now()
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-galera-'))
  // The IST path still runs the rsync SST script, whose daemon drops to nobody when run by root:
  // it must reach and write each data directory.
  chmodSync(dir, 0o755)
  const ports: Array<{ sql: number, gcomm: number, ist: number, sst: number }> = []
  for (let i = 0; i < count; i++) {
    ports.push({ sql: await freePort(), gcomm: await freePort(), ist: await freePort(), sst: await freePort() })
  }
  const clusterAddress = `gcomm://${ports.map((p) => `127.0.0.1:${p.gcomm}`).join(',')}`
  const made: GaleraNode[] = []

  /** With `bootstrap`, its first start() makes a new cluster (--wsrep-new-cluster); any later one joins. */
  const node = (i: number, datadir: string, bootstrap: boolean): GaleraNode => {
    const p = ports[i]
    if (p === undefined) throw new Error(`no node ${i}`)
    const name = `galera${i + 1}`
    const own = path.join(dir, name)
    mkdirSync(own, { recursive: true })
    const socket = path.join(own, 'mysqld.sock')
    const errorLog = path.join(own, 'error.log')
    const args = [
      ...mariadbFiles(datadir, path.join(own, 'tmp')), `--socket=${socket}`, `--port=${p.sql}`, '--bind-address=127.0.0.1',
      '--user=root', `--pid-file=${path.join(own, 'pid')}`, `--log-error=${errorLog}`,
      '--innodb-buffer-pool-size=16M', '--innodb-flush-log-at-trx-commit=0', '--sync-binlog=0', '--skip-name-resolve',
      // What Galera requires of every node.
      '--binlog-format=ROW', '--innodb-autoinc-lock-mode=2', '--default-storage-engine=InnoDB',
      '--wsrep-on=ON', `--wsrep-provider=${GALERA_PROVIDER}`, '--wsrep-cluster-name=bookstore',
      `--wsrep-cluster-address=${clusterAddress}`, `--wsrep-node-address=127.0.0.1:${p.gcomm}`, `--wsrep-node-name=${name}`,
      // A dead or frozen node is out of the view within a few seconds, not the default 5-15.
      `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${p.gcomm};ist.recv_addr=127.0.0.1:${p.ist};` +
        'evs.suspect_timeout=PT3S;evs.inactive_timeout=PT5S;gcache.size=16M;' +
        // Three nodes share two cores with the tests: past the default limit (16), a node starved
        // of CPU for a moment pauses every write in the cluster for seconds (docs/SCALING.md).
        // It falls further behind instead; reads wait for it (wsrep_sync_wait).
        'gcs.fc_limit=256;gcs.fc_factor=0.8',
      '--wsrep-slave-threads=2',
      '--wsrep-sst-method=rsync', `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`
    ]
    const url = `mysql://bookstore:bookstore@127.0.0.1:${p.sql}/bookstore`
    const joining = throwaway(p.sql, url, 'mariadbd', args)
    let next = bootstrap ? throwaway(p.sql, url, 'mariadbd', [...args, '--wsrep-new-cluster']) : joining
    let server = next
    const sql = (statement: string): string => {
      // Short: spawnSync holds the caller's event loop while a frozen node keeps it waiting.
      const run = spawnSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-N', '-B', '-e', statement],
        { encoding: 'utf8', timeout: 3000 })
      if (run.status !== 0) throw new Error(`${name}: ${statement}: ${run.stderr || run.error?.message || ''}`)
      return run.stdout
    }
    const status = (variable: string): string => sql(`SHOW STATUS LIKE '${variable}'`).trim().split('\t')[1] ?? ''
    const start = async (): Promise<void> => {
      server = next
      next = joining
      try {
        await server.start()
      } catch (err) {
        const log = existsSync(errorLog) ? readFileSync(errorLog, 'utf8').split('\n').filter((l) => /ERROR/.test(l)).slice(-5).join('\n') : ''
        throw new Error(`${name}: ${(err as Error).message}\n${log}`)
      }
    }
    return {
      port: p.sql,
      url,
      name,
      start,
      pid: () => server.pid(),
      signal: (signal) => server.signal(signal),
      kill: () => server.kill(),
      dispose: () => server.kill(),
      urlFor: (database) => `mysql://bookstore:bookstore@127.0.0.1:${p.sql}/${database}`,
      sql,
      state: () => status('wsrep_local_state_comment'),
      clusterSize: () => Number(status('wsrep_cluster_size'))
    }
  }

  const close = async (): Promise<void> => {
    for (const n of made) await n.kill()
    rmSync(dir, { recursive: true, force: true })
  }

  const settled = async (except: readonly GaleraNode[] = [], ms = 30_000): Promise<void> => {
    const live = made.filter((n) => !except.includes(n))
    await until(`${live.map((n) => n.name).join(', ')} to be synced`, () =>
      live.every((n) => n.state() === 'Synced' && n.clusterSize() === live.length), ms)
  }

  try {
    const seed = path.join(dir, 'seed')
    installMariadb(seed, path.join(dir, 'install-tmp'))
    // The seed runs once as a cluster of one, on the first node's ports, and is shut down clean.
    const first = node(0, seed, true)
    made.push(first)
    await first.start()
    first.sql([
      'CREATE DATABASE bookstore CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
      "CREATE USER 'bookstore'@'127.0.0.1' IDENTIFIED BY 'bookstore'",
      "GRANT ALL ON `bookstore%`.* TO 'bookstore'@'127.0.0.1'"
    ].join('; '))
    first.sql('SHUTDOWN')
    await until('the seed node to stop', () => !existsSync(path.join(dir, 'galera1', 'pid')))
    await first.kill()
    made.pop()
    for (let i = 0; i < count; i++) {
      const datadir = path.join(dir, `data${i + 1}`)
      cpSync(seed, datadir, { recursive: true })
      chmodSync(datadir, 0o777)
    }
    rmSync(seed, { recursive: true, force: true })
    // One joiner at a time: two joining at once collide in the group and one retries seconds later.
    for (let i = 0; i < count; i++) {
      const n = node(i, path.join(dir, `data${i + 1}`), i === 0)
      made.push(n)
      await n.start()
      await until(`${n.name} to be synced`, () => n.state() === 'Synced')
    }
    await settled()
  } catch (err) {
    await close()
    throw err
  }
  return { nodes: made, startMs: Date.now() - started, settled, close }
}

/** A database name of the app user's on the cluster: `bookstore_` and 12 random hex digits. */
export const galeraDatabaseName = (): string => `bookstore_${randomUUID().replaceAll('-', '').slice(0, 12)}`
