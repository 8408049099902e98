import { randomBytes } from 'node:crypto'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import nodemailer from 'nodemailer'
import type { OutgoingMessage } from '../stores/types'
import { traced, type Tracing } from '../tracing'

/** Where the outbox worker hands a message: an SMTP server, or a folder of .eml files. */
export interface MailTransport {
  readonly name: 'smtp' | 'files'
  /** Resolves once the message is accepted (by the server, or written whole to disk); `signal` abandons it. */
  send (message: OutgoingMessage, signal?: AbortSignal): Promise<void>
  close (): void
}

const envelopeOf = (from: string, message: OutgoingMessage) =>
  ({ from, to: message.to, subject: message.subject, text: message.text, html: message.html })

/**
 * SMTP_URL through nodemailer: `smtps://` is TLS on connect; on `smtp://` STARTTLS is used
 * whenever the server offers it (nodemailer's default). A connection per message, not a
 * pool: on loopback a pool saved 2-4 ms of 4-10 ms a message, nothing for mail sent a few
 * at a time, and an idle pooled connection the server has dropped is one more way to fail.
 * An aborted `signal` closes the connection at once (nodemailer 10 honours it mid-send).
 */
export function smtpTransport (url: string, from: string, { timeoutMs }: { timeoutMs: number }): MailTransport {
  const transporter = nodemailer.createTransport({
    url,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs * 3
  })
  return {
    name: 'smtp',
    async send (message, signal) {
      await transporter.sendMail({ ...envelopeOf(from, message), signal })
    },
    close () { transporter.close() }
  }
}

/**
 * The embedded default: each message as an RFC 5322 file in `dir`, composed by nodemailer as
 * it would go over SMTP. Written under a temporary name and renamed, so a reader never sees
 * half a message. The log names the file, never the address.
 */
export function fileTransport (dir: string, from: string, log: FastifyBaseLogger): MailTransport {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })
  let made: Promise<string | undefined> | undefined
  return {
    name: 'files',
    async send (message, signal) {
      signal?.throwIfAborted()
      made ??= mkdir(dir, { recursive: true })
      await made
      const info = await composer.sendMail(envelopeOf(from, message))
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`
      const file = path.join(dir, name)
      await writeFile(`${file}.tmp`, info.message as Buffer)
      await rename(`${file}.tmp`, file)
      log.info({ file }, 'mail written')
    },
    close () {}
  }
}

/**
 * `transport` itself when tracing is off; else one whose every send is a span: a child of the
 * request that enqueued the message when the worker was nudged by it, a trace of its own when
 * the worker's poll found it. The span names the server (never its credentials), not the
 * recipient or the subject.
 */
export function tracedTransport (transport: MailTransport, tracing: Tracing | undefined, smtpUrl?: string): MailTransport {
  if (tracing === undefined) return transport
  let server = {}
  if (smtpUrl !== undefined) {
    const url = new URL(smtpUrl)
    server = { 'server.address': url.hostname, 'server.port': Number(url.port === '' ? (url.protocol === 'smtps:' ? 465 : 587) : url.port) }
  }
  const attributes = { 'mail.transport': transport.name, 'network.protocol.name': transport.name === 'smtp' ? 'smtp' : 'file', ...server }
  return {
    name: transport.name,
    send: traced<[OutgoingMessage, AbortSignal?], void>(tracing, transport.send.bind(transport), () => ({ name: 'mail.send', attributes }), { client: transport.name === 'smtp', root: true }),
    close: () => { transport.close() }
  }
}
