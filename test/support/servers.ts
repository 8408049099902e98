import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import mysql from 'mysql2/promise'
import { freePort, installMariadb, mariadbFiles, throwaway, type Throwaway } from '../../scripts/lib/throwaway'

/**
 * Private MariaDB and FerretDB processes on free loopback ports, so a test can freeze
 * (SIGSTOP), kill and restart one without disturbing the shared services other tests use
 * (Redis, which a benchmark needs too, and the process plumbing are in scripts/lib/throwaway.ts);
 * and scratch databases of a test's own on a shared server.
 */
export { binaryAvailable, freePort, throwawayRedis, type Throwaway, type ThrowawayRedis } from '../../scripts/lib/throwaway'

/**
 * A private MariaDB with its own data directory: an empty `bookstore` database for user bookstore, who may also create `bookstore_test…` ones.
 * `plugins`: server plugins to load at start (e.g. ha_mroonga); one not installed is left out by the server.
 */
export async function throwawayMariadb ({ plugins = [] }: { plugins?: string[] } = {}): Promise<Throwaway> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-mariadb-'))
  const datadir = path.join(dir, 'data')
  const socket = path.join(dir, 'mysqld.sock')
  const tmp = path.join(dir, 'tmp')
  installMariadb(datadir, tmp)
  const server = throwaway(port, `mysql://bookstore:bookstore@127.0.0.1:${port}/bookstore`, 'mariadbd', [
    ...mariadbFiles(datadir, tmp), `--socket=${socket}`, `--port=${port}`, '--bind-address=127.0.0.1',
    '--user=root', '--skip-grant-tables=0', '--innodb-buffer-pool-size=16M', '--skip-log-bin', `--pid-file=${path.join(dir, 'pid')}`,
    // A commit is written to the OS, not synced to disk: it survives the process being killed
    // (the fault suites do that), and no commit waits on a disk other suites keep busy.
    '--innodb-flush-log-at-trx-commit=2', '--innodb-doublewrite=0',
    ...plugins.map((p) => `--plugin-load-add=${p}`)
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
