/**
 * `npm run seed`: loads a sample catalogue of public-domain classics (scripts/seed-catalogue.json)
 * and a few reviews into whichever backends are configured, writing through the services so caches
 * are invalidated as for any write (it looks for what is there in the stores). Running it twice
 * adds nothing twice. A service running beside it sees the books at once: through Redis, or on
 * a SQLite file by src/cache/external-writes.ts; with MySQL and no Redis, within the cache TTL.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { ConfigError, loadConfig } from '../config/load'
import { projectRoot } from '../config/paths'
import { buildApp } from '../src/build'
import { Permission } from '../src/domain/permission'
import type { BookInput } from '../src/schemas/book'
import { commandContext } from '../src/services/audit'
import type { Page } from '../src/stores/types'

export interface Catalogue {
  books: BookInput[]
  /** `book_title` names a book of `books`; `author` is the review's display name. */
  reviews: Array<{ book_title: string, author: string, title: string, content: string }>
}

export const SEED_EMAIL = 'seed@bookstore.invalid'
/** What the seed's sign-up records in the audit log: no request, no one signed in. */
const SEED_CONTEXT = { ip: '127.0.0.1', requestId: 'npm run seed', actorId: null }
export const CATALOGUE_FILE = path.join(projectRoot, 'scripts', 'seed-catalogue.json')

export function readCatalogue (file = CATALOGUE_FILE): Catalogue {
  return JSON.parse(readFileSync(file, 'utf8')) as Catalogue
}

export interface SeedReport { books: number, booksThere: number, reviews: number, reviewsThere: number }

const PAGE = 100

/** The first listed item for `q` that `match` accepts, page by page: a short title can match more than a page. */
async function findListed<T> (list: (page: Page) => Promise<T[]>, q: string, match: (item: T) => boolean): Promise<T | undefined> {
  for (let offset = 0; ; offset += PAGE) {
    const page = await list({ offset, limit: PAGE, q })
    const found = page.find(match)
    if (found !== undefined || page.length < PAGE) return found
  }
}

/**
 * Adds the catalogue's books (a book is there when one has exactly its title and author) and
 * reviews (there when its book has one with exactly its title), written by one seed account.
 */
export async function seed (fastify: FastifyInstance, catalogue = readCatalogue()): Promise<SeedReport> {
  const report: SeedReport = { books: 0, booksThere: 0, reviews: 0, reviewsThere: 0 }
  const ids = new Map<string, number>()
  // The books it adds are recorded (book.created) as this run's, with no client address or user.
  const context = commandContext('seed')
  for (const book of catalogue.books) {
    const existing = await findListed((page) => fastify.stores.books.list(page), book.title,
      (b) => b.title === book.title && b.author === book.author)
    if (existing !== undefined) {
      report.booksThere++
      ids.set(book.title, existing.id)
    } else {
      ids.set(book.title, (await fastify.books.create(book, context)).id)
      report.books++
    }
  }

  // Reviews belong to a user: one seed account that nobody can sign in to (random password).
  const seedUser = await fastify.stores.users.findByEmail(SEED_EMAIL) ??
    await fastify.users.signUp(SEED_EMAIL, randomBytes(24).toString('base64url'), SEED_CONTEXT)
  const actor = { user_id: seedUser.id, user_name: seedUser.email, permission: Permission.User }
  for (const review of catalogue.reviews) {
    const bookId = ids.get(review.book_title)
    if (bookId === undefined) throw new Error(`the catalogue reviews a book it does not list: ${review.book_title}`)
    const there = await findListed((page) => fastify.stores.reviews.listByBook(bookId, page), review.title, (r) => r.title === review.title)
    if (there !== undefined) {
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
  // The real app, as the server builds it, quieter.
  const fastify = buildApp({ ...config, logLevel: 'warn' })
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
