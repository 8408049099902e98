import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { SEED_EMAIL, readCatalogue, seed } from '../../scripts/seed'
import { build } from '../support/app'

const catalogue = readCatalogue()

/** Every book the API lists, page by page. */
async function allBooks (app: FastifyInstance): Promise<Array<Record<string, unknown> & { id: number, title: string, author: string }>> {
  const all = []
  for (let o = 0; ; o += 100) {
    const page = (await app.inject({ url: `/books?o=${o}&limit=100` })).json()
    all.push(...page)
    if (page.length < 100) return all
  }
}

t.test('the catalogue: real books, each review naming one of them', async (t) => {
  t.equal(catalogue.books.length, 169)
  t.equal(catalogue.reviews.length, 10)
  const titles = catalogue.books.map((b) => b.title)
  t.equal(new Set(titles).size, titles.length, 'titles are unique, so a review names one book')
  for (const review of catalogue.reviews) t.ok(titles.includes(review.book_title), `"${review.title}" reviews a listed book`)
})

t.test('npm run seed loads the catalogue once, however often it runs', async (t) => {
  const app = await build(t)

  t.same(await seed(app, catalogue), { books: 169, booksThere: 0, reviews: 10, reviewsThere: 0 }, 'first run: everything')
  t.same(await seed(app, catalogue), { books: 0, booksThere: 169, reviews: 0, reviewsThere: 10 }, 'second run: nothing twice')

  const stored = await allBooks(app)
  t.equal(stored.length, catalogue.books.length, 'no duplicates')
  for (const book of catalogue.books) {
    const found = stored.filter((b) => b.title === book.title && b.author === book.author)
    t.equal(found.length, 1, `${book.title} once`)
    t.match(found[0], { ...book, isbn: book.isbn ?? null }, `${book.title}: the catalogue's fields`)
  }

  const sample = stored.find((b) => b.title === 'Pride and Prejudice')
  t.match(sample, {
    id: Number,
    title: 'Pride and Prejudice',
    author: 'Jane Austen',
    published_at: '1813-01-28',
    isbn: '978-0-14-143951-8',
    total_pages: 432,
    description: String
  })

  for (const review of catalogue.reviews) {
    const book = stored.find((b) => b.title === review.book_title)
    const listed = (await app.inject({ url: `/books/${book?.id}/reviews?limit=100` })).json()
    t.match(listed.filter((r: { title: string }) => r.title === review.title), [{ author: review.author, content: review.content }],
      `review "${review.title}" once, on its book`)
  }
  t.ok(await app.stores.users.findByEmail(SEED_EMAIL), 'the reviews belong to the seed account')
})

const CTX = { ip: '192.0.2.1', requestId: 'seed-test', actorId: null }

t.test('a book is "already there" only with exactly its title and author, however many books match', async (t) => {
  const app = await build(t)
  const [first, second] = catalogue.books
  if (first === undefined || second === undefined) throw new Error('empty catalogue')
  // More than a page of books that contain the title, before the exact one.
  for (let i = 0; i < 100; i++) await app.books.create({ title: `${first.title}: study guide ${i}`, author: first.author }, CTX)
  await app.books.create(first, CTX)
  // Same title, another author: a different book.
  await app.books.create({ title: second.title, author: 'Someone Else' }, CTX)

  t.same(await seed(app, catalogue), { books: 168, booksThere: 1, reviews: 10, reviewsThere: 0 })
  const stored = await allBooks(app)
  t.equal(stored.filter((b) => b.title === first.title).length, 1, `${first.title} was not added again`)
  t.same(stored.filter((b) => b.title === second.title).map((b) => b.author).sort(), [second.author, 'Someone Else'].sort())
})
