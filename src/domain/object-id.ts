import { randomBytes } from 'node:crypto'

// ObjectId layout (4-byte seconds, 5 random bytes per process, 3-byte counter) so review ids
// look and sort the same on SQL as on MongoDB.
const processUnique = randomBytes(5).toString('hex')
let counter = randomBytes(3).readUIntBE(0, 3)

export const OBJECT_ID = /^[0-9a-f]{24}$/

export function newObjectId (now = Date.now()): string {
  counter = (counter + 1) % 0xffffff
  const seconds = Math.floor(now / 1000).toString(16).padStart(8, '0')
  return `${seconds}${processUnique}${counter.toString(16).padStart(6, '0')}`
}

export function isObjectId (id: string): boolean {
  return OBJECT_ID.test(id)
}
