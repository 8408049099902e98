/**
 * The route suite (every route, as the contract's black-box clients see it) on the highly
 * available forms of the engines, as it runs on one server of each (issue 21): {Galera, Redis
 * Cluster} and {a MariaDB primary with a replica, Redis Sentinel}, each started on loopback for
 * the run and removed after. MongoDB and mail stay the shared services .ci/run started
 * (MONGODB_URL, MAILPIT_SMTP_URL).
 *   node dist-test/scripts/ha-routes.js [form...]     (after `eval "$(npm run -s services)"`)
 * Forms: the names in FORMS; all of them by default. Exits non-zero when a run fails.
 */
import { spawnSync } from 'node:child_process'
import { projectRoot } from '../config/paths'
import { galeraMissing, throwawayGalera } from './lib/galera'
import { throwawayReplicaPair } from './lib/replica'
import { binaryAvailable, throwawayCluster, throwawaySentinel } from './lib/throwaway'

/** tap's limit per test file on these forms. */
const FILE_TIMEOUT_S = 300

/** One form: what it starts, the environment the route tests get, and how it is removed. */
interface Form {
  needs: string[]
  /** Why the form cannot run here, beyond a missing binary. */
  missing?: () => string | undefined
  start: () => Promise<{ env: NodeJS.ProcessEnv, dispose: () => Promise<void> }>
}

const FORMS: Record<string, Form> = {
  'galera+cluster': {
    needs: ['redis-server', 'redis-cli'],
    missing: galeraMissing,
    async start () {
      const galera = await throwawayGalera()
      const cluster = await throwawayCluster().catch(async (err: unknown) => { await galera.close(); throw err })
      return {
        // The apps' databases are made on one node and reach the others by replication.
        env: { DATABASE_URL: galera.nodes[0]?.url, REDIS_CLUSTER_NODES: cluster.nodesSetting },
        async dispose () {
          await cluster.dispose()
          await galera.close()
        }
      }
    }
  },
  'replica+sentinel': {
    needs: ['mariadbd', 'mariadb-install-db', 'redis-server', 'redis-cli'],
    async start () {
      const pair = await throwawayReplicaPair()
      const ha = await throwawaySentinel().catch(async (err: unknown) => { await pair.dispose(); throw err })
      // Each test app makes a database of its own (test/support/app.ts), on the primary.
      await pair.primary.admin("GRANT ALL ON `bookstore\\_test\\_%`.* TO 'bookstore'@'127.0.0.1'")
      return {
        env: {
          DATABASE_URL: pair.primary.url,
          DATABASE_REPLICA_URLS: pair.replicas.map((replica) => replica.url).join(','),
          REDIS_SENTINELS: ha.sentinelsSetting,
          REDIS_SENTINEL_NAME: ha.name
        },
        async dispose () {
          await ha.dispose()
          await pair.dispose()
        }
      }
    }
  }
}

async function main (): Promise<void> {
  const asked = process.argv.slice(2)
  const names = asked.length === 0 ? Object.keys(FORMS) : asked
  let failed = 0
  for (const name of names) {
    const form = FORMS[name]
    if (form === undefined) throw new Error(`no form ${name}: one of ${Object.keys(FORMS).join(', ')}`)
    const absent = form.needs.filter((cmd) => !binaryAvailable(cmd))
    const missing = absent.length > 0 ? `no ${absent.join(', ')} on PATH` : form.missing?.()
    if (missing !== undefined) {
      // Loud, never a pass: the form was not tested.
      console.error(`SKIPPED: route suite on ${name} — ${missing}`)
      continue
    }
    const started = Date.now()
    const { env, dispose } = await form.start()
    try {
      console.log(`== route suite on ${name} (${Object.keys(env).join(', ')}), engines up in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      // Each test app connects to every node of the form (six for a Cluster) and, on Galera,
      // waits for its writes to certify: under CI's load a file may take longer than tap's 120 s.
      const run = spawnSync('bash', ['scripts/tap.sh', '--timeout', String(FILE_TIMEOUT_S), 'dist-test/test/routes'], {
        cwd: projectRoot,
        stdio: 'inherit',
        // Error lines on stderr: a 503 that fails a test here names its cause in CI's log. A
        // 5 s store bound: why, at BOOKSTORE_TEST_BACKEND_TIMEOUT_MS in test/support/app.ts.
        env: { ...process.env, ...env, BOOKSTORE_TEST_APP: 'real', BOOKSTORE_TEST_LOG_LEVEL: 'error', BOOKSTORE_TEST_BACKEND_TIMEOUT_MS: '5000' }
      })
      if (run.status !== 0) failed++
      console.log(`== route suite on ${name}: ${run.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`)
    } finally {
      await dispose()
    }
  }
  if (failed > 0) process.exit(1)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
