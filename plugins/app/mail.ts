import fp from 'fastify-plugin'
import path from 'node:path'
import { fileTransport, smtpTransport } from '../../src/mail/transport'
import { createMailWorker } from '../../src/mail/worker'

declare module 'fastify' {
  interface FastifyInstance {
    /** The outbox worker: services nudge it after committing a message. */
    mail: { nudge: () => void, transport: 'smtp' | 'files' }
  }
}

/**
 * Sends the outbox: through SMTP_URL when set, else as .eml files into MAIL_DIR. Starts once
 * the app is ready and stops (finishing the message in hand) when it closes.
 */
export default fp(async function mailPlugin (fastify) {
  const { smtpUrl, mailFrom, mailDir, backendTimeoutMs } = fastify.config
  const log = fastify.log.child({ module: 'mail' })
  const transport = smtpUrl === undefined
    ? fileTransport(path.resolve(mailDir), mailFrom, log)
    : smtpTransport(smtpUrl, mailFrom, { timeoutMs: Math.max(backendTimeoutMs, 5000) })
  const worker = createMailWorker({ outbox: fastify.stores.outbox, transport, log })
  fastify.decorate('mail', { nudge: worker.nudge, transport: transport.name })
  fastify.addHook('onReady', async () => { worker.start() })
  fastify.addHook('onClose', async () => { await worker.stop() })
}, { name: 'mail', dependencies: ['config', 'stores'] })
