import { ObjectId, type Collection, type Db, type Filter, type MongoClientOptions } from 'mongodb'
import { isObjectId } from '../../schemas/common'
import { publicReview, type ReviewRecord } from '../../schemas/review'
import type { Backend, ReviewStore } from '../types'

/**
 * The driver's defaults wait 30 s to select a server; these make a dead or frozen server fail
 * an operation within about a second. FerretDB (and a standalone mongod) has no replica set,
 * so retryable writes are off.
 */
export const MONGO_CLIENT_OPTIONS = {
  serverSelectionTimeoutMS: 1000,
  connectTimeoutMS: 1000,
  socketTimeoutMS: 5000,
  maxPoolSize: 10,
  retryWrites: false,
  retryReads: false
} as const satisfies MongoClientOptions

interface ReviewDoc {
  _id: ObjectId
  book_id: number
  user_id: number
  author: string
  title: string
  content: string
  created_at: Date
  updated_at: Date
}

/** Every regular-expression metacharacter of user input escaped: `q` is matched as plain text. */
export function literalPattern (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
}

const recordOf = (d: ReviewDoc): ReviewRecord => ({
  id: d._id.toHexString(),
  book_id: d.book_id,
  user_id: d.user_id,
  author: d.author,
  title: d.title,
  content: d.content,
  created_at: d.created_at.toISOString(),
  updated_at: d.updated_at.toISOString()
})

/** Ids reach a query only as ObjectIds built from 24 hex digits: nothing else is ever a filter. */
const objectId = (id: string): ObjectId | undefined => (isObjectId(id) ? new ObjectId(id) : undefined)

/** The `book_id` index keeps a book's list and its deletion off a collection scan. */
export async function ensureReviewIndexes (db: Db): Promise<void> {
  await db.collection<ReviewDoc>('reviews').createIndex({ book_id: 1, created_at: -1 }, { name: 'reviews_book_newest' })
}

/** Reviews in MongoDB (when MONGODB_URL is set), and the connection's readiness. */
export function createMongoReviewStore (db: Db): { reviews: ReviewStore, backend: Backend } {
  const reviews: Collection<ReviewDoc> = db.collection<ReviewDoc>('reviews')
  const store: ReviewStore = {
    async listByBook (bookId, { offset, limit, q }) {
      const filter: Filter<ReviewDoc> = { book_id: bookId }
      if (q !== undefined && q !== '') {
        const pattern = literalPattern(String(q))
        filter.$or = [{ title: { $regex: pattern, $options: 'i' } }, { content: { $regex: pattern, $options: 'i' } }]
      }
      const docs = await reviews.find(filter).sort({ created_at: -1, _id: -1 }).skip(offset).limit(limit).toArray()
      return docs.map((d) => publicReview(recordOf(d)))
    },
    async get (id) {
      const _id = objectId(id)
      if (_id === undefined) return undefined
      const doc = await reviews.findOne({ _id })
      return doc === null ? undefined : recordOf(doc)
    },
    async create (input) {
      const now = new Date()
      const doc: ReviewDoc = { _id: new ObjectId(), ...input, created_at: now, updated_at: now }
      await reviews.insertOne(doc)
      return recordOf(doc)
    },
    async update (id, { title, content }) {
      const _id = objectId(id)
      if (_id === undefined) return undefined
      const doc = await reviews.findOneAndUpdate({ _id }, { $set: { title, content, updated_at: new Date() } }, { returnDocument: 'after' })
      return doc === null ? undefined : recordOf(doc)
    },
    async delete (id) {
      const _id = objectId(id)
      return _id !== undefined && (await reviews.deleteOne({ _id })).deletedCount === 1
    },
    async deleteByBook (bookId) {
      return (await reviews.deleteMany({ book_id: bookId })).deletedCount
    }
  }
  const backend: Backend = {
    name: 'mongodb',
    async ping () {
      await db.command({ ping: 1 })
    },
    // @fastify/mongodb closes the client when the app closes.
    async close () {}
  }
  return { reviews: store, backend }
}
