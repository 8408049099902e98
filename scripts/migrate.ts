/**
 * `npm run migrate`: applies the schema migrations the configured SQL database lacks and says
 * which ran. It starts the app without listening, exactly as the server does (the stores
 * plugin migrates before anything reads), so there is one way to pick and open the database.
 */
import { ConfigError, loadConfig } from '../config/load'
import { buildApp } from '../src/build'

/** Someone is waiting at a terminal or a deploy step: give up sooner than the service does, unless told. */
const STARTUP_WAIT_SECONDS = 15

async function main (): Promise<void> {
  const config = loadConfig({ env: process.env, defaults: { startupWaitSeconds: STARTUP_WAIT_SECONDS } })
  const app = buildApp({ ...config, logLevel: 'warn' })
  try {
    await app.ready()
    const where = config.databaseUrl.replace(/\/\/[^@/]*@/, '//')
    const applied = app.stores.migrated
    console.log(applied.length === 0 ? `${where}: up to date` : `${where}: applied migration(s) ${applied.join(', ')}`)
  } finally {
    await app.close()
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
