import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { simpleParser } from 'mailparser'
import { freePort, throwaway, type Throwaway } from '../../scripts/lib/throwaway'

/** A delivered message as a user would read it. */
export interface Delivered {
  /** The .eml file's name, or `mailpit:<id>` for a message read from mailpit. */
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

/**
 * The HTTP API of each mailpit the tests know, by the SMTP_URL that reaches it: the shared one
 * of `npm run services` (MAILPIT_SMTP_URL / MAILPIT_API_URL) and every throwawayMailpit().
 */
const mailpitApis = new Map<string, string>()
const { MAILPIT_SMTP_URL, MAILPIT_API_URL } = process.env
if (MAILPIT_SMTP_URL !== undefined && MAILPIT_API_URL !== undefined) mailpitApis.set(MAILPIT_SMTP_URL, MAILPIT_API_URL)

/** The address inside `Name <address>` (or the whole string when it is bare). */
const addressOf = (mailbox: string): string => (/<([^>]+)>\s*$/.exec(mailbox)?.[1] ?? mailbox).trim().toLowerCase()

interface MailpitSummary { ID: string }

/**
 * What a mailpit holds for one query, oldest first, each read as raw source and parsed as a
 * file would be. Mailpit's to:/from: match substrings, so the caller filters exactly again.
 */
async function mailpitMessages (api: string, query: string): Promise<Delivered[]> {
  const found: MailpitSummary[] = []
  for (let start = 0; ; start += 500) {
    const res = await fetch(`${api}/api/v1/search?query=${encodeURIComponent(query)}&limit=500&start=${start}`)
    if (!res.ok) throw new Error(`mailpit search answered ${res.status}`)
    const page = await res.json() as { messages: MailpitSummary[], messages_count: number }
    found.push(...page.messages)
    if (page.messages.length < 500 || found.length >= page.messages_count) break
  }
  // Mailpit answers newest first, by a received time in milliseconds, and messages received in
  // the same millisecond newest first too (its index on that time): reversed, they are in the
  // order received. Sorting again by that time, ties broken by the random ID, put a test's
  // sixth resend before its fifth.
  found.reverse()
  return Promise.all(found.map(async ({ ID }) => {
    const raw = await fetch(`${api}/api/v1/message/${ID}/raw`)
    if (!raw.ok) throw new Error(`mailpit raw message answered ${raw.status}`)
    return parseMessage(Buffer.from(await raw.arrayBuffer()), `mailpit:${ID}`)
  }))
}

/**
 * Every message the app has delivered so far, oldest first. On the embedded default: the .eml
 * files of its MAIL_DIR (a folder of its own). With the app's SMTP_URL on a known mailpit: that
 * mailpit's messages to `to` when given, else those from the app's MAIL_FROM address (a shared
 * server holds other tests' mail; realBackends gives every app a sender address of its own).
 */
export async function mailbox (app: FastifyInstance, to?: string): Promise<Delivered[]> {
  const { smtpUrl, mailFrom, mailDir } = app.config
  if (smtpUrl !== undefined) {
    const api = mailpitApis.get(smtpUrl)
    if (api === undefined) throw new Error('the app sends through an SMTP server the tests cannot read (not a mailpit from MAILPIT_SMTP_URL or throwawayMailpit())')
    const wanted = to === undefined ? addressOf(mailFrom) : to.toLowerCase()
    const messages = await mailpitMessages(api, `${to === undefined ? 'from' : 'to'}:"${wanted}"`)
    return messages.filter((m) => (to === undefined ? [m.from] : m.to.split(',')).some((a) => addressOf(a) === wanted))
  }
  const dir = path.resolve(mailDir)
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.eml')).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const all = await Promise.all(names.map(async (n) => parseMessage(await readFile(path.join(dir, n)), n)))
  return to === undefined ? all : all.filter((m) => m.to.toLowerCase().includes(to.toLowerCase()))
}

/**
 * Waits until the app has delivered a message to `to` whose subject matches, and answers the
 * newest such; rejects after `timeoutMs` (the contract: with the server up, mail leaves within 5 s).
 */
export async function waitForMail (app: FastifyInstance, to: string, subject: RegExp, { timeoutMs = 5000, count = 1 } = {}): Promise<Delivered> {
  const until = Date.now() + timeoutMs
  for (;;) {
    let found: Delivered[] = []
    try {
      found = (await mailbox(app, to)).filter((m) => subject.test(m.subject))
    } catch (err) {
      // A mailpit being restarted by a fault test answers nothing for a moment.
      if (Date.now() > until) throw err
    }
    const newest = found[found.length - 1]
    if (found.length >= count && newest !== undefined) return newest
    if (Date.now() > until) throw new Error(`no message ${String(subject)} to ${to} within ${timeoutMs} ms (${found.length} found)`)
    await sleep(50)
  }
}

/** The mailpit binary `npm run services` builds (scripts/services/mailpit.sh), when it runs. */
export function mailpitAvailable (): boolean {
  const probe = spawnSync('mailpit', ['version', '--no-release-check'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
}

export interface ThrowawayMailpit extends Throwaway {
  /** SMTP_URL for an app that should send to it (mailbox() and waitForMail() then read it). */
  smtpUrl: string
  /** Its HTTP API. */
  apiUrl: string
}

export interface ThrowawayMailpitOptions {
  /**
   * `starttls`: offers STARTTLS and refuses mail sent without it; `tls`: TLS on connect only
   * (an smtps:// server). Either with a self-signed certificate mailpit makes, which the
   * smtpUrl tells nodemailer to accept (`?tls.rejectUnauthorized=false`).
   */
  tls?: 'starttls' | 'tls'
}

/**
 * A private mailpit on free loopback ports, its messages in a database file of its own, so a
 * kill() and start() (an SMTP outage) keeps what it had accepted and a test can count
 * deliveries exactly.
 */
export async function throwawayMailpit ({ tls }: ThrowawayMailpitOptions = {}): Promise<ThrowawayMailpit> {
  const smtpPort = await freePort()
  const httpPort = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-mailpit-'))
  const smtpUrl = tls === undefined
    ? `smtp://127.0.0.1:${smtpPort}`
    : `${tls === 'tls' ? 'smtps' : 'smtp'}://127.0.0.1:${smtpPort}?tls.rejectUnauthorized=false`
  const apiUrl = `http://127.0.0.1:${httpPort}`
  const tlsArgs = tls === undefined
    ? []
    : ['--smtp-tls-cert', 'sans:localhost', '--smtp-tls-key', 'sans:localhost', tls === 'tls' ? '--smtp-require-tls' : '--smtp-require-starttls']
  const server = throwaway(smtpPort, smtpUrl, 'mailpit', [
    '--smtp', `127.0.0.1:${smtpPort}`, '--listen', `127.0.0.1:${httpPort}`,
    '--database', path.join(dir, 'mailpit.db'), '--smtp-auth-accept-any',
    // Mailpit refuses to require TLS while allowing authentication in the clear.
    ...(tls === undefined ? ['--smtp-auth-allow-insecure'] : tlsArgs),
    '--disable-version-check', '--quiet'
  ], () => rmSync(dir, { recursive: true, force: true }))
  const start = async (): Promise<void> => {
    await server.start()
    // SMTP listens first; wait for the API too, which the checks read.
    const until = Date.now() + 30_000
    for (;;) {
      if (await fetch(`${apiUrl}/api/v1/info`).then((r) => r.ok, () => false)) return
      if (Date.now() > until) throw new Error(`mailpit API did not answer on ${apiUrl}`)
      await sleep(50)
    }
  }
  mailpitApis.set(smtpUrl, apiUrl)
  await start()
  return { ...server, smtpUrl, apiUrl, start }
}
