/**
 * `npm run seed`: loads a sample catalogue of public-domain classics (scripts/seed-catalogue.json)
 * and a few reviews into whichever backends are configured, through the services so caches are
 * invalidated as for any write. Running it twice adds nothing twice.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import app from '../src/app'
import { ConfigError, loadConfig } from '../config/load'
import { serverOptions } from '../config/server-options'
import type { BookInput } from '../src/domain/models'
import { Permission } from '../src/domain/permission'

interface Catalogue {
  books: BookInput[]
  reviews: Array<{ book_title: string, author: string, title: string, content: string }>
}

export const SEED_EMAIL = 'seed@bookstore.invalid'

export function readCatalogue (): Catalogue {
  return JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'scripts', 'seed-catalogue.json'), 'utf8')) as Catalogue
}

export interface SeedReport { books: number, booksThere: number, reviews: number, reviewsThere: number }

export async function seed (fastify: FastifyInstance, catalogue = readCatalogue()): Promise<SeedReport> {
  const report: SeedReport = { books: 0, booksThere: 0, reviews: 0, reviewsThere: 0 }
  const ids = new Map<string, number>()
  for (const book of catalogue.books) {
    const matches = await fastify.books.list({ offset: 0, limit: 100, q: book.title })
    const existing = matches.find((b) => b.title === book.title && b.author === book.author)
    if (existing !== undefined) {
      report.booksThere++
      ids.set(book.title, existing.id)
    } else {
      ids.set(book.title, (await fastify.books.create(book)).id)
      report.books++
    }
  }

  // Reviews belong to a user: one seed account that nobody can sign in to (random password).
  const seedUser = await fastify.stores.users.findByEmail(SEED_EMAIL) ??
    await fastify.users.signUp(SEED_EMAIL, randomBytes(24).toString('base64url'))
  const actor = { user_id: seedUser.id, user_name: seedUser.email, permission: Permission.User }
  for (const review of catalogue.reviews) {
    const bookId = ids.get(review.book_title)
    if (bookId === undefined) throw new Error(`review of unknown book ${review.book_title}`)
    const there = await fastify.reviews.list(bookId, { offset: 0, limit: 100, q: review.title })
    if (there.some((r) => r.title === review.title)) {
      report.reviewsThere++
      continue
    }
    await fastify.reviews.create(actor, { book_id: bookId, title: review.title, content: review.content, author: review.author })
    report.reviews++
  }
  return report
}

async function main (): Promise<void> {
  const config = loadConfig({ env: process.env })
  const fastify = Fastify(serverOptions({ ...config, logLevel: 'warn' }))
  await fastify.register(fp(app), { config })
  await fastify.ready()
  try {
    const r = await seed(fastify)
    console.log(`seeded ${r.books} books (${r.booksThere} already there), ${r.reviews} reviews (${r.reviewsThere} already there)`)
  } finally {
    await fastify.close()
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : err)
    process.exit(1)
  })
}
