// First, before the modules it must outlive start loading (see the file).
import './tick-shapes'
import { constants } from 'node:os'
import closeWithGrace from 'close-with-grace'
import { loadConfig, ConfigError } from '../config/load'
import type { Config } from '../config/schema'
import { buildApp } from './build'

/** The only file that touches the process: environment, signals, listening. */
async function main (): Promise<void> {
  let config: Config
  try {
    config = loadConfig({ env: process.env })
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(1)
    }
    throw err
  }

  // Stopped while starting (waiting for a backing service, most often): nothing listens yet,
  // so there is nothing to drain. The wait ends at once (src/wait-for.ts); whatever else is
  // under way (a migration) ends its step first. Exit 128 + the signal's number, as a shell does.
  const starting = new AbortController()
  const fastify = buildApp(config, { pretty: process.stdout.isTTY, startupSignal: starting.signal })
  const stopStarting = (signal: NodeJS.Signals): void => { starting.abort(signal) }
  process.once('SIGINT', stopStarting)
  process.once('SIGTERM', stopStarting)
  const stopped = (): never => {
    const signal = starting.signal.reason as NodeJS.Signals
    process.stderr.write(`start-up stopped by ${signal}\n`)
    process.exit(128 + (constants.signals[signal] ?? 0))
  }
  try {
    await fastify.ready()
  } catch (err) {
    if (starting.signal.aborted) stopped()
    throw err
  }
  if (starting.signal.aborted) {
    await fastify.close()
    stopped()
  }
  process.off('SIGINT', stopStarting)
  process.off('SIGTERM', stopStarting)

  // Exit 0 as soon as close() is done (plugins/app/shutdown.ts drains keep-alive connections);
  // whatever still runs after the grace is cut off with exit status 1.
  closeWithGrace({
    delay: config.shutdownGraceMs,
    onTimeout: (delay) => fastify.log.error({ graceMs: delay }, 'shutdown grace over: cutting off what still runs')
  }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'closing after an uncaught error')
    else fastify.log.info({ signal }, 'closing')
    const started = Date.now()
    await fastify.close()
    fastify.log.info({ drainMs: Date.now() - started }, 'closed')
  })

  const backends = [...fastify.stores.backends.map((b) => b.name), fastify.cache.name].join(' + ')
  await fastify.listen({
    host: config.host,
    port: config.port,
    listenTextResolver: (address) => `bookstore listening at ${address} on ${backends}; API docs at ${address}/docs`
  })
  // Awaited here, not in an onListen hook (whose errors are only logged): a metrics port that
  // is taken stops start-up like the API port does.
  if (fastify.metricsServer !== undefined) {
    const address = await fastify.metricsServer.listen({ host: config.host, port: config.metricsPort ?? 0 })
    fastify.log.info(`metrics at ${address}/metrics`)
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`start-up failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
