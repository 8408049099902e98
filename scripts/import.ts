/**
 * `npm run import -- FILE`: loads a catalogue of books from JSON Lines (one POST /books body
 * per line, validated by the very schema POST /books uses, unknown fields refused) into
 * whichever database is configured, through the book store's bulk path.
 *
 * All or nothing: the whole file is validated first, streaming; a bad line is reported with
 * its number and nothing is loaded. Then it is read again and loaded in one transaction
 * (each line is checked again on the way, so a file changed in between fails whole too).
 * Blank lines are skipped. Afterwards the book cache is invalidated, as for any write (and a
 * service running beside it sees that as `npm run seed` says).
 */
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { FastifyInstance } from 'fastify'
import { ConfigError, loadConfig } from '../config/load'
import { buildApp } from '../src/build'
import { BookBody, type BookInput } from '../src/schemas/book'
import { compileBodyValidator, validationDetails } from '../src/http/validation'

const BATCH = 1000
const validBook = compileBodyValidator(BookBody)

export class ImportError extends Error {}

/** Each non-blank line of `file` as a book, with its 1-based line number; throws ImportError on the first bad one. */
async function * books (file: string): AsyncGenerator<BookInput> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity })
  let number = 0
  for await (const line of lines) {
    number++
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      throw new ImportError(`${file}:${number}: not JSON`)
    }
    if (!validBook(value)) {
      const details = validationDetails(validBook.errors ?? []).map((d) => `${d.path} ${d.message}`).join('; ')
      throw new ImportError(`${file}:${number}: not a book body: ${details}`)
    }
    yield value as BookInput
  }
}

async function * batches (file: string, onBatch: (count: number) => void): AsyncGenerator<BookInput[]> {
  let batch: BookInput[] = []
  let count = 0
  for await (const book of books(file)) {
    batch.push(book)
    if (batch.length === BATCH) {
      yield batch
      onBatch(count += batch.length)
      batch = []
    }
  }
  if (batch.length > 0) {
    yield batch
    onBatch(count + batch.length)
  }
}

export interface ImportReport { books: number, seconds: number, perSecond: number }

/** Validates the whole of `file`, then loads it; rejects with ImportError naming the bad line. */
export async function importFile (fastify: FastifyInstance, file: string, progress: (line: string) => void = () => {}): Promise<ImportReport> {
  const started = process.hrtime.bigint()
  let valid = 0
  for await (const _ of books(file)) {
    if (++valid % 100000 === 0) progress(`validated ${valid} books`)
  }
  const loaded = await fastify.stores.books.importMany(batches(file, (n) => {
    if (n % 50000 === 0 || n === valid) progress(`loaded ${n} of ${valid} books`)
  }))
  await fastify.books.invalidate()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { books: loaded, seconds, perSecond: loaded / seconds }
}

async function main (): Promise<void> {
  const file = process.argv[2]
  if (file === undefined) throw new ImportError('usage: npm run import -- FILE.jsonl')
  const config = loadConfig({ env: process.env })
  const fastify = buildApp({ ...config, logLevel: 'warn' })
  await fastify.ready()
  const tty = process.stderr.isTTY
  try {
    const report = await importFile(fastify, file, (line) => {
      if (tty) process.stderr.write(`\r\x1b[K${line}`)
    })
    if (tty) process.stderr.write('\r\x1b[K')
    console.log(`imported ${report.books} books in ${report.seconds.toFixed(1)} s (${Math.round(report.perSecond)} books/s) into ${fastify.stores.backends[0]?.name ?? 'the database'}`)
  } finally {
    await fastify.close()
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof ImportError || err instanceof ConfigError ? err.message : err)
    process.exit(1)
  })
}
