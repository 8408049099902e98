import type { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config/schema'
import { serverOptions } from './http/server-options'
import app from './app'

interface BuildOptions {
  /** Pretty logs (a terminal); JSON lines otherwise. */
  pretty?: boolean
  /** Ends the start-up waits for backing services at once when aborted (src/server.ts: a signal). */
  startupSignal?: AbortSignal
  /** Where log lines go instead of stdout (tests read them back). */
  logStream?: Writable
  /**
   * False: the outbox is left to the servers. A bulk import holds the write lock for minutes,
   * and a worker in its process would only fail to read the outbox, and say so, meanwhile.
   */
  mailWorker?: boolean
}

/**
 * The one place a Fastify instance and the app are put together, for the server, the tests,
 * the scripts and the benchmark alike. The app loads on `ready()` (or `listen()`), so a caller
 * can still add a hook first. fp() keeps the app's decorators (stores, books, ...) visible on
 * the returned instance.
 */
export function buildApp (config: Config, { pretty = false, startupSignal, logStream, mailWorker }: BuildOptions = {}): FastifyInstance {
  const options = serverOptions(config, { pretty })
  const fastify = Fastify(logStream === undefined ? options : { ...options, logger: { ...(options.logger as object), stream: logStream } })
  void fastify.register(fp(app), { config, startupSignal, mailWorker })
  return fastify
}
