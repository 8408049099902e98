import t from 'tap'
import { readCatalogue, seed } from '../../scripts/seed'
import { build } from '../helper'

t.test('npm run seed loads the catalogue once, however often it runs', async (t) => {
  const app = await build(t)
  const catalogue = readCatalogue()
  t.ok(catalogue.books.length >= 100, `at least 100 books (${catalogue.books.length})`)

  t.same(await seed(app, catalogue), { books: catalogue.books.length, booksThere: 0, reviews: catalogue.reviews.length, reviewsThere: 0 })
  t.same(await seed(app, catalogue), { books: 0, booksThere: catalogue.books.length, reviews: 0, reviewsThere: catalogue.reviews.length })

  const res = await app.inject({ url: '/books?q=Pride%20and%20Prejudice' })
  t.match(res.json(), [{ title: 'Pride and Prejudice', author: 'Jane Austen', published_at: '1813-01-28', total_pages: Number }])
  const all = []
  for (let o = 0; ; o += 100) {
    const page = (await app.inject({ url: `/books?o=${o}&limit=100` })).json()
    all.push(...page)
    if (page.length < 100) break
  }
  t.equal(all.length, catalogue.books.length, 'no duplicates')
  const reviewed = all.find((b: { title: string }) => b.title === catalogue.reviews[0]?.book_title)
  const reviews = (await app.inject({ url: `/books/${reviewed.id}/reviews` })).json()
  t.match(reviews, [{ author: catalogue.reviews[0]?.author, title: catalogue.reviews[0]?.title }])
})
