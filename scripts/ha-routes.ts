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
import { throwawayReplicaPair } from './lib/replica'
import { binaryAvailable, throwawayCluster, throwawaySentinel } from './lib/throwaway'

/** One form: what it starts, the environment the route tests get, and how it is removed. */
interface Form {
  needs: string[]
  start: () => Promise<{ env: NodeJS.ProcessEnv, dispose: () => Promise<void> }>
}

const FORMS: Record<string, Form> = {
  'redis-cluster': {
    needs: ['redis-server', 'redis-cli'],
    async start () {
      const cluster = await throwawayCluster()
      return { env: { REDIS_CLUSTER_NODES: cluster.nodesSetting }, dispose: () => cluster.dispose() }
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
    const missing = form.needs.filter((cmd) => !binaryAvailable(cmd))
    if (missing.length > 0) {
      // Loud, never a pass: the form was not tested.
      console.error(`SKIPPED: route suite on ${name} — no ${missing.join(', ')} on PATH`)
      continue
    }
    const started = Date.now()
    const { env, dispose } = await form.start()
    try {
      console.log(`== route suite on ${name} (${Object.keys(env).join(', ')}), engines up in ${((Date.now() - started) / 1000).toFixed(1)} s`)
      const run = spawnSync('npx', ['tap', 'dist-test/test/routes'], {
        cwd: projectRoot,
        stdio: 'inherit',
        env: { ...process.env, ...env, BOOKSTORE_TEST_APP: 'real' }
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
