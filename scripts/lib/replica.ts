import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { freePort, installMariadb, mariadbFiles, throwaway, type Throwaway } from './throwaway'

/**
 * A MariaDB primary and its replicas (binlog + GTID replication) on loopback, each a private
 * mariadbd in a temporary folder, for the read-replica fault tests: their SQL threads can be
 * stopped and their processes frozen without touching the shared server. Durability is traded
 * for speed (no fsync, no doublewrite): a crash loses data, which no test here relies on.
 */

export interface ReplicaServer extends Throwaway {
  /** Runs statements as root over the server's socket (STOP SLAVE, status counters). */
  admin<T extends RowDataPacket = RowDataPacket> (sql: string, params?: unknown[]): Promise<T[]>
}

export interface ReplicaPair {
  primary: ReplicaServer
  replicas: ReplicaServer[]
  /** Resolves once every replica has applied everything the primary has committed. */
  synced (timeoutMs?: number): Promise<void>
  /** Kills every server and removes their data. */
  dispose (): Promise<void>
}

/** The app user's password on every server of a pair: distinct, so a test can look for it in logs. */
export const REPLICA_PAIR_PASSWORD = 'pair-only-pw-7f3a'

const FAST = ['--innodb-flush-log-at-trx-commit=0', '--sync-binlog=0', '--innodb-doublewrite=0', '--innodb-buffer-pool-size=16M']

async function server (serverId: number, extra: string[]): Promise<ReplicaServer> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-replica-'))
  const datadir = path.join(dir, 'data')
  const socket = path.join(dir, 'mysqld.sock')
  const tmp = path.join(dir, 'tmp')
  try {
    installMariadb(datadir, tmp)
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  const base = throwaway(port, `mysql://bookstore:${REPLICA_PAIR_PASSWORD}@127.0.0.1:${port}/bookstore`, 'mariadbd', [
    ...mariadbFiles(datadir, tmp), `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
    '--user=root', `--server-id=${serverId}`, `--pid-file=${path.join(dir, 'pid')}`, ...FAST, ...extra
  ], () => rmSync(dir, { recursive: true, force: true }))
  try {
    await base.start()
  } catch (err) {
    await base.dispose()
    throw err
  }
  return {
    ...base,
    async admin<T extends RowDataPacket> (sql: string, params: unknown[] = []): Promise<T[]> {
      const conn = await mysql.createConnection({ socketPath: socket, user: 'root', connectTimeout: 5000, multipleStatements: true })
      try {
        const [rows] = await conn.query<T[]>(sql, params)
        return Array.isArray(rows) ? rows : []
      } finally {
        conn.destroy()
      }
    }
  }
}

/**
 * A primary (binlog, ROW format, server id 1) and `count` read-only replicas following it with
 * `MASTER_USE_GTID=slave_pos`. The `bookstore` database and user are created on the primary
 * after replication started, so they reach every replica by replication itself; the user may
 * read replication status (SLAVE MONITOR), as the contract asks of the app's user.
 */
export async function throwawayReplicaPair ({ count = 1 }: { count?: number } = {}): Promise<ReplicaPair> {
  const started: ReplicaServer[] = []
  const dispose = async (): Promise<void> => { await Promise.all(started.map((s) => s.dispose())) }
  try {
    const primary = await server(1, ['--log-bin=mysql-bin', '--binlog-format=ROW'])
    started.push(primary)
    await primary.admin("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'")
    const replicas: ReplicaServer[] = []
    for (let i = 0; i < count; i++) {
      const replica = await server(2 + i, ['--read-only=1', '--skip-log-bin'])
      started.push(replica)
      replicas.push(replica)
      await replica.admin(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='repl', MASTER_PASSWORD='repl',
        MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos`)
      await replica.admin('START SLAVE')
    }
    const users = ["'bookstore'@'127.0.0.1'", "'bookstore'@'localhost'"]
    await primary.admin(['CREATE DATABASE bookstore CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci',
      ...users.map((u) => `CREATE USER ${u} IDENTIFIED BY '${REPLICA_PAIR_PASSWORD}'`),
      ...users.map((u) => `GRANT ALL ON bookstore.* TO ${u}`),
      ...users.map((u) => `GRANT SLAVE MONITOR ON *.* TO ${u}`)].join('; '))
    const synced = async (timeoutMs = 20_000): Promise<void> => {
      const [row] = await primary.admin('SELECT @@gtid_binlog_pos AS pos')
      for (const replica of replicas) {
        const [waited] = await replica.admin('SELECT MASTER_GTID_WAIT(?, ?) AS w', [String(row?.pos ?? ''), timeoutMs / 1000])
        if (Number(waited?.w) !== 0) throw new Error(`replica on port ${replica.port} did not catch up within ${timeoutMs} ms`)
      }
    }
    await synced()
    return { primary, replicas, synced, dispose }
  } catch (err) {
    await dispose()
    throw err
  }
}
