import { notFound, preconditionFailed } from '../domain/errors'

type Resource = Parameters<typeof notFound>[0]

/**
 * What a conditional write asks of the stored item: nothing (undefined), only that it exists
 * ('*'), or that its current tag is one of these.
 */
export type Expected = '*' | readonly string[] | undefined

interface ConditionalWriteOptions<K, R> {
  /** The resource as a 404 names it: `book`, `review`. */
  what: Resource
  /** The item as stored now. */
  read: (id: K) => Promise<R | undefined>
  /** The strong tag of the item's serialized form. */
  tagOf: (record: R) => string
}

/**
 * The one rule of conditional writes. The condition is checked against the item as stored now
 * and turned into the version the write must still find (undefined: any); the store's
 * conditional write makes check and write one step. 404 before 412: a missing item is
 * missing whatever the condition says. When the write finds nothing, a second read decides:
 * the item is gone (404), or changed since the check (412).
 */
export function createConditionalWrite<K, R extends { version: number }> ({ what, read, tagOf }: ConditionalWriteOptions<K, R>) {
  async function expectedVersion (id: K, expected: Expected, current: R | undefined): Promise<number | undefined> {
    if (expected === undefined) return undefined
    const record = current ?? await read(id)
    if (record === undefined) throw notFound(what)
    if (expected === '*') return undefined
    if (!expected.includes(tagOf(record))) throw preconditionFailed()
    return record.version
  }

  /**
   * Runs `write` with the version to expect and answers what it wrote (undefined: nothing
   * matched). `current` spares the first read when the caller has just made it.
   */
  return async function conditionalWrite<T> (id: K, expected: Expected, write: (version: number | undefined) => Promise<T | undefined>, current?: R): Promise<T> {
    const version = await expectedVersion(id, expected, current)
    const written = await write(version)
    if (written !== undefined) return written
    if (version === undefined || (await read(id)) === undefined) throw notFound(what)
    throw preconditionFailed()
  }
}
