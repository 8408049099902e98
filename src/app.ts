import path from 'node:path'
import AutoLoad from '@fastify/autoload'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/schema'
import { errorHandler, notFoundHandler } from './http/error-handler'
import { COMPONENTS } from './schemas/components'
import { validatorCompiler } from './http/validation'
import type { Tracing } from './tracing'

interface AppOptions {
  config: Config
  /** Aborted when the process is told to stop while the app starts (src/server.ts). */
  startupSignal?: AbortSignal | undefined
  /** False for a script that only uses the stores: no outbox worker (src/build.ts). */
  mailWorker?: boolean | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /**
     * Aborted when the process is told to stop while it starts: a backing service's wait
     * ends at once (src/wait-for.ts). Absent where nothing can ask that (tests, scripts).
     */
    startupSignal?: AbortSignal | undefined
    /** Whether this instance sends the outbox (plugins/app/mail.ts): false in `npm run import`. */
    mailWorker: boolean
    /** Set only when OTEL_EXPORTER_OTLP_ENDPOINT is: what the seams wrap themselves with (src/tracing.ts). */
    tracing: Tracing | undefined
  }
}

// Folders resolve from this file, so the same code runs from src/ (tests) and dist/src/.
const root = path.join(__dirname, '..')

/**
 * The application is a plugin: src/build.ts registers it on a bare Fastify with a validated
 * configuration. Order is explicit: configuration, third-party plugins, our plugins (which
 * declare their dependencies), then the routes.
 */
export default async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  const { otelExporterOtlpEndpoint: endpoint, otelServiceName: serviceName } = opts.config
  // Required only when configured: unset, no OpenTelemetry module is loaded and every seam
  // keeps its untraced functions (test/faults/tracing.test.ts holds both to that).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const traces = endpoint === undefined ? undefined : (require('./tracing-sdk') as typeof import('./tracing-sdk')).startTracing({ endpoint, serviceName })
  await fastify.register(fp(async function configPlugin (instance) {
    instance.decorate('config', opts.config)
    instance.decorate('startupSignal', opts.startupSignal)
    instance.decorate('mailWorker', opts.mailWorker ?? true)
    instance.decorate('tracing', traces?.tracing)
  }, { name: 'config' }))
  if (traces !== undefined) {
    // Before every other plugin and route: the server span must wrap all their hooks. Its
    // onClose is the first registered, so it runs last (LIFO), after the mail worker and the
    // stores have ended their spans: everything is exported before close() resolves.
    fastify.addHook('onClose', async (instance) => { await traces.shutdown(instance.log) })
    await fastify.register(traces.plugin)
    traces.logIds(fastify)
  }

  // JSON only: Fastify's default text/plain parser would let a text body reach validation.
  fastify.removeContentTypeParser('text/plain')
  fastify.setValidatorCompiler(validatorCompiler)
  // The named schemas, referenced by every route's responses (and components in the docs).
  for (const schema of COMPONENTS) fastify.addSchema(schema)
  fastify.setErrorHandler(errorHandler)
  fastify.setNotFoundHandler(notFoundHandler)
  // `done`, not async: an async hook costs a promise per request.
  fastify.addHook('onRequest', function requestIdHeader (request, reply, done) {
    reply.header('x-request-id', request.id)
    done()
  })

  await fastify.register(AutoLoad, { dir: path.join(root, 'plugins', 'external'), forceESM: false })
  await fastify.register(AutoLoad, { dir: path.join(root, 'plugins', 'app') })
  await fastify.register(AutoLoad, {
    dir: path.join(root, 'routes'),
    routeParams: true,
    autoHooks: false,
    ignorePattern: /^(README\.md|.*\.d\.ts|.*\.map)$/
  })
}
