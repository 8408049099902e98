import fp from 'fastify-plugin'
import path from 'node:path'
import { fileTransport, smtpTransport, tracedTransport } from '../../src/mail/transport'
import { createMailWorker } from '../../src/mail/worker'

declare module 'fastify' {
  interface FastifyInstance {
    /** The outbox worker: services nudge it after committing a message. */
    mail: { nudge: () => void, transport: 'smtp' | 'files' }
  }
}

/**
 * Sends the outbox: through SMTP_URL when set, else as .eml files into MAIL_DIR. Starts once
 * the app is ready (unless built without it: `npm run import`) and stops when it closes: the
 * message in hand may finish within half the shutdown grace (the rest is the HTTP drain's),
 * then it is aborted and stays in the outbox.
 * Its onClose runs before the stores' (registered after them), so the outcome is recorded.
 */
export default fp(async function mailPlugin (fastify) {
  const { smtpUrl, mailFrom, mailDir, backendTimeoutMs, shutdownGraceMs } = fastify.config
  const log = fastify.log.child({ module: 'mail' })
  const transport = tracedTransport(smtpUrl === undefined
    ? fileTransport(path.resolve(mailDir), mailFrom, log)
    : smtpTransport(smtpUrl, mailFrom, { timeoutMs: Math.max(backendTimeoutMs, 5000) }), fastify.tracing, smtpUrl)
  const worker = createMailWorker({ outbox: fastify.stores.outbox, transport, log, stopMs: Math.floor(shutdownGraceMs / 2) })
  fastify.decorate('mail', { nudge: worker.nudge, transport: transport.name })
  if (fastify.mailWorker) fastify.addHook('onReady', async () => { worker.start() })
  fastify.addHook('onClose', async () => { await worker.stop() })
}, { name: 'mail', dependencies: ['config', 'stores'] })
