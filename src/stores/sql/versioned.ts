import type { SqlValue } from './dialect'

/**
 * A conditional write's test, appended to its WHERE: with an expected version only the row
 * still at that version matches, so check and write are one statement and two writers
 * expecting the same version cannot both match. Without one, nothing is added.
 */
export const versionClause = (expectedVersion: number | undefined): { sql: string, params: SqlValue[] } =>
  expectedVersion === undefined ? { sql: '', params: [] } : { sql: ' AND version = ?', params: [expectedVersion] }

/** A row read back in the transaction that wrote it: missing, the database broke its word. */
export function readBack<T> (what: string, id: number | string, row: T | undefined): T {
  if (row === undefined) throw new Error(`${what} ${id} was written but cannot be read back`)
  return row
}
