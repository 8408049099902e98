import { MongoClient } from 'mongodb'
import t from 'tap'
import { MONGO_CLIENT_OPTIONS, createMongoReviewStore, ensureReviewIndexes, literalPattern } from '../../src/stores/mongodb/reviews'
import { scratchName, skipSuite } from '../helper'
import { binaryAvailable, throwawayFerretdb, type Throwaway } from '../throwaway'
import { reviewStoreContract } from './review-store.contract'
import { reviewSearchDifferential } from './search-differential'

// MONGODB_URL's server when set (npm run services, CI); else a private FerretDB when its
// binary is installed; else a loud skip.
const given = process.env.MONGODB_URL !== undefined && process.env.MONGODB_URL !== '' ? process.env.MONGODB_URL : undefined
if (given === undefined && !binaryAvailable('ferretdb')) {
  skipSuite(t, 'MongoDB review store suite', 'no ferretdb on PATH and no MONGODB_URL=mongodb://host:27017/db (npm run services installs and prints it)')
} else {
  let server: Throwaway | undefined
  let client: MongoClient | undefined
  const name = scratchName()
  const db = () => {
    if (client === undefined) throw new Error('no client')
    return client.db(name)
  }
  t.before(async () => {
    if (given === undefined) server = await throwawayFerretdb()
    client = new MongoClient(given ?? server?.url ?? '', MONGO_CLIENT_OPTIONS)
  })
  t.teardown(async () => {
    await client?.db(name).dropDatabase()
    await client?.close()
    await server?.dispose()
  })
  let nextBook = 1

  t.test('the book_id index exists', async (t) => {
    await ensureReviewIndexes(db())
    await ensureReviewIndexes(db())
    const names = (await db().collection('reviews').listIndexes().toArray()).map((i) => i.name)
    t.ok(names.includes('reviews_book_newest'), names.join(', '))
  })
  t.test('reviews', async (t) => reviewStoreContract(t, async () => ({
    reviews: createMongoReviewStore(db()).reviews,
    newBookId: async () => nextBook++
  })))
  t.test('review search, differentially', async (t) => reviewSearchDifferential(t, async () => ({
    reviews: createMongoReviewStore(db()).reviews,
    newBookId: async () => nextBook++
  })))
  t.test('readiness pings the server', async (t) => {
    const { backend } = createMongoReviewStore(db())
    t.equal(backend.name, 'mongodb')
    await backend.ping()
  })
  t.test('user text never becomes a pattern', async (t) => {
    t.equal(literalPattern('a.b*c(d)[e]$^|?+{1}\\/-'), 'a\\.b\\*c\\(d\\)\\[e\\]\\$\\^\\|\\?\\+\\{1\\}\\\\\\/\\-')
  })
}
