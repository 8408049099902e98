import { MongoClient } from 'mongodb'
import t from 'tap'
import { MONGO_CLIENT_OPTIONS } from '../../plugins/external/mongodb'
import { createMongoReviewStore, ensureReviewIndexes, literalPattern } from '../../src/stores/mongodb'
import { scratchName, skipSuite } from '../helper'
import { reviewStoreContract } from './review-store.contract'

const url = process.env.MONGODB_URL
if (url === undefined || url === '') {
  skipSuite(t, 'MongoDB review store suite', 'set MONGODB_URL=mongodb://host:27017/db (npm run services prints it)')
} else {
  const client = new MongoClient(url, MONGO_CLIENT_OPTIONS)
  const db = client.db(scratchName())
  t.teardown(async () => {
    await db.dropDatabase()
    await client.close()
  })
  let nextBook = 1

  t.test('the book_id index exists', async (t) => {
    await ensureReviewIndexes(db)
    await ensureReviewIndexes(db)
    const names = (await db.collection('reviews').listIndexes().toArray()).map((i) => i.name)
    t.ok(names.includes('reviews_book_newest'), names.join(', '))
  })
  t.test('reviews', async (t) => reviewStoreContract(t, async () => ({
    reviews: createMongoReviewStore(db),
    newBookId: async () => nextBook++
  })))
  t.test('user text never becomes a pattern', async (t) => {
    t.equal(literalPattern('a.b*c(d)[e]$^|?+{1}\\/-'), 'a\\.b\\*c\\(d\\)\\[e\\]\\$\\^\\|\\?\\+\\{1\\}\\\\\\/\\-')
  })
}
