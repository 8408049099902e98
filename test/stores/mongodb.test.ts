import { MongoClient, ObjectId } from 'mongodb'
import t from 'tap'
import { MONGO_CLIENT_OPTIONS } from '../../src/stores/mongodb/client'
import { STALE_CLAIM_MS, createMongoReviewStore, ensureReviewIndexes, literalPattern } from '../../src/stores/mongodb/reviews'
import { skipSuite } from '../support/app'
import { binaryAvailable, scratchName, throwawayFerretdb, type Throwaway } from '../support/servers'
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

  t.test('the book_id and user_id indexes exist', async (t) => {
    await ensureReviewIndexes(db())
    await ensureReviewIndexes(db())
    const names = (await db().collection('reviews').listIndexes().toArray()).map((i) => i.name)
    t.ok(names.includes('reviews_book_newest'), names.join(', '))
    t.ok(names.includes('reviews_user_newest'), names.join(', '))
  })
  t.test('every write the store sends asks a majority to acknowledge it (what a replica set needs to keep it through a failover)', async (t) => {
    const watched = new MongoClient(given ?? server?.url ?? '', { ...MONGO_CLIENT_OPTIONS, monitorCommands: true })
    t.teardown(() => watched.close())
    const sent: Array<{ name: string, writeConcern?: unknown }> = []
    watched.on('commandStarted', (event) => sent.push({ name: event.commandName, writeConcern: (event.command as { writeConcern?: unknown }).writeConcern }))
    const { reviews } = createMongoReviewStore(watched.db(name))
    const review = await reviews.create({ book_id: nextBook++, user_id: 1, author: 'A', title: 't', content: 'c' })
    await reviews.update(review.id, { title: 'u', content: 'c' }, 1)
    await reviews.delete(review.id)
    const writes = sent.filter((command) => ['insert', 'update', 'delete', 'findAndModify'].includes(command.name))
    t.ok(writes.length >= 3, `${writes.length} writes sent`)
    t.same(writes.filter((command) => (command.writeConcern as { w?: unknown } | undefined)?.w !== 'majority'), [], 'each with w: majority')
  })
  t.test('reviews', async (t) => reviewStoreContract(t, async () => ({
    reviews: createMongoReviewStore(db()).reviews,
    newBookId: async () => nextBook++
  })))
  t.test('review search, differentially', async (t) => reviewSearchDifferential(t, async () => ({
    reviews: createMongoReviewStore(db()).reviews,
    newBookId: async () => nextBook++
  })))
  t.test('a writer that died between claiming a version and writing it blocks that version only until the claim is stale', async (t) => {
    const { reviews } = createMongoReviewStore(db())
    const claims = db().collection<{ _id: string, review: string, at: Date }>('review_versions')
    const review = await reviews.create({ book_id: nextBook++, user_id: 1, author: 'A', title: 't', content: 'c' })
    // As a crashed writer leaves it: version 2 claimed, the review still at 1.
    await claims.insertOne({ _id: `${review.id}:2`, review: review.id, at: new Date() })
    t.equal(await reviews.update(review.id, { title: 'x', content: 'c' }, 1), undefined, 'a fresh claim is a live writer: refused')
    await claims.updateOne({ _id: `${review.id}:2` }, { $set: { at: new Date(Date.now() - STALE_CLAIM_MS - 1000) } })
    t.equal((await reviews.update(review.id, { title: 'x', content: 'c' }, 1))?.version, 2, 'a stale one is taken over')
    t.equal((await reviews.update(review.id, { title: 'y', content: 'c' }))?.version, 3, 'and the review stays writable')
    t.equal(await claims.countDocuments({ review: review.id }), 1, 'spent claims are removed')
    t.equal(await reviews.delete(review.id), true)
    t.equal(await claims.countDocuments({ review: review.id }), 0, 'a deleted review leaves no claim')
  })
  t.test('documents written before the lower-cased copies get them at start-up', async (t) => {
    const _id = new ObjectId()
    await db().collection('reviews').insertOne({ _id, book_id: nextBook, user_id: 1, author: 'A', title: 'OLD Title', content: 'ÇA', created_at: new Date(), updated_at: new Date() })
    await ensureReviewIndexes(db())
    const { reviews } = createMongoReviewStore(db())
    t.same((await reviews.listByBook(nextBook, { offset: 0, limit: 5, q: 'old t' })).map((r) => r.id), [_id.toHexString()])
    t.equal((await reviews.get(_id.toHexString()))?.version, 1, 'read as version 1')
    t.equal((await reviews.update(_id.toHexString(), { title: 'n', content: 'c' }, 1))?.version, 2)
    nextBook++
  })
  t.test('readiness pings the server', async (t) => {
    const { backend } = createMongoReviewStore(db())
    t.equal(backend.name, 'mongodb')
    await backend.ping()
  })
  t.test('user text never becomes a pattern', async (t) => {
    t.equal(literalPattern('a.b*c(d)[e]$^|?+{1}\\/-'), 'a\\.b\\*c\\(d\\)\\[e\\]\\$\\^\\|\\?\\+\\{1\\}\\\\\\/\\-')
  })
}
