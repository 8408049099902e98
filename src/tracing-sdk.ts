import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginCallback } from 'fastify'
import { addLogBindings } from './http/request-logger'
import type { Tracing } from './tracing'

/** The error's code (ER_DUP_ENTRY, ECONNREFUSED) or class name: never its message, which may quote a value. */
function errorType (err: unknown): string {
  const e = err as { code?: unknown, name?: unknown } | null
  if (typeof e?.code === 'string' && e.code !== '') return e.code
  return typeof e?.name === 'string' && e.name !== '' ? e.name : 'Error'
}

const EXPORT_TIMEOUT_MS = 2000

/**
 * Spans waiting for export, at most; beyond, new ones are dropped (the SDK counts them). The
 * SDK's 2,048 held ~20 MB more at peak under a read flood (every request traced, 5,800 req/s
 * on one core) than this, while the exporter, sending a batch whenever this many wait, kept up
 * no better: a flood loses spans either way, and memory is what the pod is sized by.
 */
const MAX_QUEUED_SPANS = 256

interface Started {
  tracing: Tracing
  /** @fastify/otel's plugin: a server span per request; registered before any route. */
  plugin: FastifyPluginCallback
  /** An onRequest hook that puts the request's trace and span ids on its log lines. */
  logIds: (instance: FastifyInstance) => void
  /** Exports what is still buffered, then releases the global provider and context manager; never rejects. */
  shutdown: (log: FastifyBaseLogger) => Promise<void>
}

/**
 * Loaded by src/app.ts only when OTEL_EXPORTER_OTLP_ENDPOINT is set: everything OpenTelemetry
 * lives behind this file. A Node tracer provider (AsyncLocalStorage context, the W3C
 * traceparent propagator) batching spans to `<endpoint>/v1/traces` over OTLP/HTTP, every span
 * carrying service.name. The provider is registered globally because @fastify/otel reads the
 * incoming traceparent through the global propagator; shutdown() unregisters it, so an app
 * built after this one closed (the tests build many) starts clean.
 */
export function startTracing ({ endpoint, serviceName }: { endpoint: string, serviceName: string }): Started {
  // A collector that is down or frozen costs a shutdown at most EXPORT_TIMEOUT_MS (the batch
  // is dropped), well within the 10 s the contract gives a SIGTERM; the defaults wait 10-30 s.
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces`, timeoutMillis: EXPORT_TIMEOUT_MS })
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, { exportTimeoutMillis: EXPORT_TIMEOUT_MS, maxQueueSize: MAX_QUEUED_SPANS, maxExportBatchSize: MAX_QUEUED_SPANS })]
  })
  provider.register()
  const tracer = provider.getTracer('bookstore')

  const instrumentation = new FastifyOtelInstrumentation({
    // One span per request (the handler's and each hook's would only repeat it), named as
    // the HTTP semantic conventions name a server span: method and route pattern, the
    // method alone when no route matched (a 404: its URL is unbounded).
    instrumentHooks: false,
    instrumentHandler: false,
    requestHook: (span, request) => {
      const route = request.routeOptions.url
      span.updateName(route === undefined ? request.method : `${request.method} ${route}`)
    }
  })
  instrumentation.setTracerProvider(provider)

  const tracing: Tracing = {
    span (name, attributes, fn, { client = false, root = false } = {}) {
      const parent = context.active()
      if (!root && trace.getSpan(parent) === undefined) return fn()
      return tracer.startActiveSpan(name, { kind: client ? SpanKind.CLIENT : SpanKind.INTERNAL, attributes }, parent, async (span) => {
        try {
          return await fn()
        } catch (err) {
          const type = errorType(err)
          span.setAttribute('error.type', type)
          span.setStatus({ code: SpanStatusCode.ERROR, message: type })
          throw err
        } finally {
          span.end()
        }
      })
    }
  }

  return {
    tracing,
    plugin: instrumentation.plugin(),
    logIds (instance) {
      // `done`, not async: an async hook costs a promise per request.
      instance.addHook('onRequest', function traceLogIds (request, _reply, done) {
        const otel = request.opentelemetry()
        if (otel.instrumented && otel.span !== undefined && otel.span !== null) {
          const { traceId, spanId } = otel.span.spanContext()
          addLogBindings(request.log, { trace_id: traceId, span_id: spanId })
        }
        done()
      })
    },
    async shutdown (log) {
      try {
        await provider.shutdown()
      } catch (err) {
        // A collector down at shutdown loses the last batch; the close goes on.
        log.warn({ code: errorType(err) }, 'traces not exported at shutdown: the collector did not take them')
      } finally {
        trace.disable()
        context.disable()
        propagation.disable()
      }
    }
  }
}
