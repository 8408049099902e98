import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { simpleParser } from 'mailparser'

/** A delivered message as a user would read it. */
export interface Delivered {
  file: string
  to: string
  from: string
  subject: string
  text: string
  html: string
  /** The token of its `Token:` line, when it carries one. */
  token: string | undefined
  /** The link that carries the token, when there is one. */
  link: string | undefined
}

const TOKEN_LINE = /^Token: (\S+)$/m
const LINK = /(https?:\/\/\S+\?token=[A-Za-z0-9_-]+)/

/** Parses one message: the fields a test asserts on, the token and its link read out of the text part. */
export async function parseMessage (raw: Buffer | string, file = ''): Promise<Delivered> {
  const mail = await simpleParser(raw)
  const to = Array.isArray(mail.to) ? mail.to.map((a) => a.text).join(', ') : mail.to?.text ?? ''
  const text = mail.text ?? ''
  return {
    file,
    to,
    from: mail.from?.text ?? '',
    subject: mail.subject ?? '',
    text,
    html: typeof mail.html === 'string' ? mail.html : '',
    token: TOKEN_LINE.exec(text)?.[1],
    link: LINK.exec(text)?.[1]
  }
}

/** Every message the app has written to its MAIL_DIR so far (the embedded default's delivery), oldest first. */
export async function mailbox (app: FastifyInstance): Promise<Delivered[]> {
  const dir = path.resolve(app.config.mailDir)
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.eml')).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return Promise.all(names.map(async (n) => parseMessage(await readFile(path.join(dir, n)), n)))
}

/**
 * Waits until the app has delivered a message to `to` whose subject matches, and answers the
 * newest such; rejects after `timeoutMs` (the contract: with the server up, mail leaves within 5 s).
 */
export async function waitForMail (app: FastifyInstance, to: string, subject: RegExp, { timeoutMs = 5000, count = 1 } = {}): Promise<Delivered> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const found = (await mailbox(app)).filter((m) => m.to.toLowerCase().includes(to.toLowerCase()) && subject.test(m.subject))
    const newest = found[found.length - 1]
    if (found.length >= count && newest !== undefined) return newest
    if (Date.now() > until) throw new Error(`no message ${String(subject)} to ${to} within ${timeoutMs} ms (${found.length} found)`)
    await sleep(50)
  }
}
