import { randomBytes } from 'node:crypto'
import { mkdir, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import nodemailer from 'nodemailer'
import type { OutgoingMessage } from '../stores/types'

/** Where the outbox worker hands a message: an SMTP server, or a folder of .eml files. */
export interface MailTransport {
  readonly name: 'smtp' | 'files'
  /** Resolves once the message is accepted (by the server, or written whole to disk). */
  send (message: OutgoingMessage): Promise<void>
  close (): void
}

const envelopeOf = (from: string, message: OutgoingMessage) =>
  ({ from, to: message.to, subject: message.subject, text: message.text, html: message.html })

/**
 * SMTP_URL through nodemailer: `smtps://` is TLS on connect; on `smtp://` STARTTLS is used
 * whenever the server offers it (nodemailer's default).
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
    async send (message) {
      await transporter.sendMail(envelopeOf(from, message))
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
    async send (message) {
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
