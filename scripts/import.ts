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
import { open, type FileHandle } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { getSystemErrorMap } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { ConfigError, loadConfig } from '../config/load'
import { buildApp } from '../src/build'
import { BookBody, type BookInput } from '../src/schemas/book'
import { compileBodyValidator, validationDetails } from '../src/http/validation'

const BATCH = 1000
const validBook = compileBodyValidator(BookBody)

export class ImportError extends Error {}

/** A file that cannot be read, in one line: `cannot read books.jsonl: no such file or directory`. */
function unreadable (file: string, err: unknown): unknown {
  const { errno, code } = err as NodeJS.ErrnoException
  if (code === undefined) return err
  const reason = (errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1]) ?? code
  return new ImportError(`cannot read ${file}: ${reason}`)
}

/** Each non-blank line of `file` as a book, with its 1-based line number; throws ImportError on the first bad one. */
async function * books (file: string): AsyncGenerator<BookInput> {
  let handle: FileHandle
  try {
    handle = await open(file)
  } catch (err) {
    throw unreadable(file, err)
  }
  const lines = createInterface({ input: handle.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity })
  let number = 0
  try {
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
  } catch (err) {
    // A directory opens, and fails on the first read.
    throw err instanceof ImportError ? err : unreadable(file, err)
  } finally {
    lines.close()
    await handle.close().catch(() => {})
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
  }), valid)
  await fastify.books.invalidate()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { books: loaded, seconds, perSecond: seconds > 0 ? loaded / seconds : 0 }
}

/** `imported 2500 books in 1.3 s (1923 books/s)`; under a second, in milliseconds. */
export function importSummary ({ books, seconds, perSecond }: ImportReport): string {
  const took = seconds < 1 ? `${Math.max(1, Math.round(seconds * 1000))} ms` : `${seconds.toFixed(1)} s`
  const rate = books === 0 ? '' : ` (${Math.round(perSecond)} books/s)`
  return `imported ${books} book${books === 1 ? '' : 's'} in ${took}${rate}`
}

async function main (): Promise<void> {
  const file = process.argv[2]
  if (file === undefined) throw new ImportError('usage: npm run import -- FILE.jsonl')
  const config = loadConfig({ env: process.env })
  const fastify = buildApp({ ...config, logLevel: 'warn' }, { mailWorker: false })
  await fastify.ready()
  const tty = process.stderr.isTTY
  try {
    const report = await importFile(fastify, file, (line) => {
      if (tty) process.stderr.write(`\r\x1b[K${line}`)
    })
    if (tty) process.stderr.write('\r\x1b[K')
    console.log(`${importSummary(report)} into ${fastify.stores.backends[0]?.name ?? 'the database'}`)
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
