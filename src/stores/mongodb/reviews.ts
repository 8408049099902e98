import { setTimeout as sleep } from 'node:timers/promises'
import { MongoServerError, ObjectId, type Collection, type Db, type Filter } from 'mongodb'
import { isObjectId } from '../../schemas/common'
import { publicReview, type ReviewRecord } from '../../schemas/review'
import { traced, type Tracing } from '../../tracing'
import type { Backend, ReviewStore } from '../types'

interface ReviewDoc {
  _id: ObjectId
  book_id: number
  user_id: number
  author: string
  title: string
  content: string
  created_at: Date
  updated_at: Date
  /** 1 at creation, +1 per update; absent on documents older than versions (read as 1). */
  version?: number
  /** JavaScript's toLowerCase() of title and content: what `q` matches, without the `i` flag. */
  title_lc?: string
  content_lc?: string
}

/**
 * A claim on a review's next version: `_id` is `${reviewId}:${version}`. Claims are how the
 * check and the write of one update are one atomic step on FerretDB, which does not make a
 * conditional findOneAndUpdate atomic (two concurrent ones both succeed), and on MongoDB alike.
 */
interface ClaimDoc {
  _id: string
  review: string
  at: Date
}

/**
 * A claim older than this whose review is still at the version before it was left by a writer
 * that died between its claim and its write: another writer may take it over. Far above the
 * driver's socket timeout (5 s) and the store deadline (1 s), so a live writer is never overtaken.
 */
export const STALE_CLAIM_MS = 30_000
/** How long an unconditional writer waits before re-reading when another holds the next version. */
const CLAIM_RETRY_MS = 5
const MAX_CLAIM_ATTEMPTS = 100

const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000

/** Every regular-expression metacharacter of user input escaped: `q` is matched as plain text. */
export function literalPattern (text: string): string {
  // A BSON regex is a C string: a NUL goes as the escape \x00, which PCRE and RE2 both read.
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&').replaceAll('\0', '\\x00')
}

const recordOf = (d: ReviewDoc): ReviewRecord => ({
  id: d._id.toHexString(),
  book_id: d.book_id,
  user_id: d.user_id,
  author: d.author,
  title: d.title,
  content: d.content,
  created_at: d.created_at.toISOString(),
  updated_at: d.updated_at.toISOString(),
  version: d.version ?? 1
})

/** Ids reach a query only as ObjectIds built from 24 hex digits: nothing else is ever a filter. */
const objectId = (id: string): ObjectId | undefined => (isObjectId(id) ? new ObjectId(id) : undefined)

/**
 * The `book_id` index keeps a book's list and its deletion off a collection scan; the
 * `user_id` index does the same for an account's export and deletion. Documents
 * written before the lower-cased copies existed get them here, once, at start-up.
 */
export async function ensureReviewIndexes (db: Db): Promise<void> {
  const reviews = db.collection<ReviewDoc>('reviews')
  await reviews.createIndex({ book_id: 1, created_at: -1 }, { name: 'reviews_book_newest' })
  await reviews.createIndex({ user_id: 1, created_at: -1 }, { name: 'reviews_user_newest' })
  await db.collection<ClaimDoc>('review_versions').createIndex({ review: 1 }, { name: 'review_versions_review' })
  for await (const d of reviews.find({ title_lc: { $exists: false } }, { projection: { title: 1, content: 1 } })) {
    await reviews.updateOne({ _id: d._id, title_lc: { $exists: false } },
      { $set: { title_lc: d.title.toLowerCase(), content_lc: d.content.toLowerCase() } })
  }
}

/** Reviews in MongoDB (when MONGODB_URL is set), and the connection's readiness. */
/** The collection methods the store calls, by the MongoDB command each sends (db.operation.name). */
const COMMANDS: Record<string, string> = {
  findOne: 'find', insertOne: 'insert', updateOne: 'update', deleteOne: 'delete', deleteMany: 'delete'
}

/**
 * `collection` itself when tracing is off; else a view of it whose operations each run in a
 * span (`find reviews`) with the database semantic conventions' attributes. A find's span is
 * its cursor's toArray(), where the query is sent. Filters are never recorded: they hold
 * user ids and search text.
 */
export function tracedCollection<T extends object> (collection: Collection<T>, tracing: Tracing | undefined): Collection<T> {
  if (tracing === undefined) return collection
  const describe = (operation: string) => () => ({
    name: `${operation} ${collection.collectionName}`,
    attributes: {
      'db.system': 'mongodb',
      'db.system.name': 'mongodb',
      'db.namespace': collection.dbName,
      'db.collection.name': collection.collectionName,
      'db.operation.name': operation
    }
  })
  return new Proxy(collection, {
    get (target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver)
      if (typeof value !== 'function' || typeof property !== 'string') return value
      const method = value as (...args: unknown[]) => unknown
      if (property === 'find') {
        return (...args: unknown[]) => {
          const cursor = method.apply(target, args) as { toArray: () => Promise<unknown[]> }
          cursor.toArray = traced(tracing, cursor.toArray.bind(cursor), describe('find'), { client: true })
          return cursor
        }
      }
      const command = COMMANDS[property]
      if (command === undefined) return method.bind(target)
      return traced(tracing, async (...args: unknown[]) => await method.apply(target, args), describe(command), { client: true })
    }
  })
}

export function createMongoReviewStore (db: Db, tracing?: Tracing): { reviews: ReviewStore, backend: Backend } {
  const reviews: Collection<ReviewDoc> = tracedCollection(db.collection<ReviewDoc>('reviews'), tracing)
  const claims: Collection<ClaimDoc> = tracedCollection(db.collection<ClaimDoc>('review_versions'), tracing)

  /**
   * Takes version `version + 1` of review `id` for the caller, who has just read it at `version`.
   * The claim is an insert into review_versions under `_id` `${id}:${version + 1}`: `_id` is
   * unique on every MongoDB-compatible server (FerretDB keeps it as its backend's primary key),
   * so of any writers that read the same version exactly one inserts; the others get a
   * duplicate-key error. Only after its claim does a writer write, and its write is filtered on
   * `version` too. Unconditional writers claim the same way (retrying on a fresh read), so none
   * slips between a conditional writer's check and its write.
   *
   * A writer that dies between claim and write leaves the review at `version` with the claim
   * taken: after STALE_CLAIM_MS that claim may be taken over (deleted by its exact `at`, so of two
   * takers only one deletes it, then both race to insert it afresh as above).
   * Returns 'claimed', or 'taken' when another writer holds it.
   */
  async function claim (id: string, version: number): Promise<'claimed' | 'taken'> {
    const _id = `${id}:${version + 1}`
    try {
      await claims.insertOne({ _id, review: id, at: new Date() })
      return 'claimed'
    } catch (err) {
      if (!isDuplicateKey(err)) throw err
    }
    const held = await claims.findOne({ _id })
    if (held === null || Date.now() - held.at.getTime() < STALE_CLAIM_MS) return 'taken'
    const still = await reviews.findOne({ _id: new ObjectId(id) }, { projection: { version: 1 } })
    if (still === null || (still.version ?? 1) !== version) return 'taken'
    await claims.deleteOne({ _id, at: held.at })
    try {
      await claims.insertOne({ _id, review: id, at: new Date() })
      return 'claimed'
    } catch (err) {
      if (isDuplicateKey(err)) return 'taken'
      throw err
    }
  }

  /**
   * Runs `write` once this writer holds the review's next version. With `expectedVersion`,
   * a review at another version, or a next version someone else holds, is a refusal
   * (undefined) at once; without it, the writer re-reads and tries again.
   */
  async function claimed<T> (id: string, expectedVersion: number | undefined, write: (current: ReviewDoc) => Promise<T | undefined>): Promise<T | undefined> {
    const _id = objectId(id)
    if (_id === undefined) return undefined
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const current = await reviews.findOne({ _id })
      if (current === null) return undefined
      const version = current.version ?? 1
      if (expectedVersion !== undefined && version !== expectedVersion) return undefined
      if (await claim(id, version) === 'claimed') {
        const done = await write(current)
        // The claim of the version before is spent: nobody can claim it again (it is older).
        await claims.deleteOne({ _id: `${id}:${version}` })
        if (done !== undefined || expectedVersion !== undefined) return done
      } else if (expectedVersion !== undefined) {
        return undefined
      }
      await sleep(CLAIM_RETRY_MS)
    }
    throw new Error(`review ${id}: could not claim its next version in ${MAX_CLAIM_ATTEMPTS} attempts`)
  }

  const store: ReviewStore = {
    async listByBook (bookId, { offset, limit, q }) {
      const filter: Filter<ReviewDoc> = { book_id: bookId }
      if (q !== undefined && q !== '') {
        // The copies are lower-cased by toLowerCase(); the needle too; no `i` flag, whose
        // case folding (PCRE's) is not JavaScript's.
        const pattern = literalPattern(q.toLowerCase())
        filter.$or = [{ title_lc: { $regex: pattern } }, { content_lc: { $regex: pattern } }]
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
      const doc: ReviewDoc = {
        _id: new ObjectId(), ...input, created_at: now, updated_at: now, version: 1,
        title_lc: input.title.toLowerCase(), content_lc: input.content.toLowerCase()
      }
      await reviews.insertOne(doc)
      return recordOf(doc)
    },
    async update (id, { title, content }, expectedVersion) {
      return claimed(id, expectedVersion, async (current) => {
        const version = (current.version ?? 1) + 1
        const set = { title, content, title_lc: title.toLowerCase(), content_lc: content.toLowerCase(), updated_at: new Date(), version }
        const { matchedCount } = await reviews.updateOne({ _id: current._id, version: current.version ?? { $exists: false } }, { $set: set })
        return matchedCount === 1 ? recordOf({ ...current, ...set }) : undefined
      })
    },
    async delete (id, expectedVersion) {
      const done = await claimed(id, expectedVersion, async (current) => {
        const { deletedCount } = await reviews.deleteOne({ _id: current._id, version: current.version ?? { $exists: false } })
        return deletedCount === 1 ? true : undefined
      })
      if (done === true) await claims.deleteMany({ review: id })
      return done === true
    },
    async deleteByBook (bookId) {
      return (await reviews.deleteMany({ book_id: bookId })).deletedCount
    },
    async listByUser (userId) {
      const docs = await reviews.find({ user_id: userId }).sort({ created_at: -1, _id: -1 }).toArray()
      return docs.map((d) => publicReview(recordOf(d)))
    },
    async deleteByUser (userId) {
      const gone = await reviews.find({ user_id: userId }, { projection: { _id: 1 } }).toArray()
      const { deletedCount } = await reviews.deleteMany({ user_id: userId })
      // Their version claims name no one, but go with them, as a single deletion's do.
      if (gone.length > 0) await claims.deleteMany({ review: { $in: gone.map((d) => d._id.toHexString()) } })
      return deletedCount
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
