import type { Test } from 'tap'
import type { Book } from '../../src/schemas/book'
import type { Review } from '../../src/schemas/review'
import type { BookStore, ReviewStore } from '../../src/stores/types'

/** A seeded PRNG (mulberry32): a failure names its seed, and the same seed replays it. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

// Case pairs, accents, the characters whose lower case differs in length or by locale (ß, ẞ,
// İ, ı, final sigma, a titlecase digraph, a combining dot), SQL and regex metacharacters,
// quotes, an astral character, NUL (the end of a C string).
const ALPHABET = [...'aAbBeEéÉèiIİıßẞσΣςǅöÖ%_\\"\' .*(+)[?xX0', '\u0307', '🙂', '\u0000']

const SEED = Number(process.env.SEARCH_SEED ?? Date.now() % 100000)

function generator (seed: number) {
  const random = prng(seed)
  const int = (n: number): number => Math.floor(random() * n)
  const text = (min: number, max: number): string =>
    Array.from({ length: min + int(max - min + 1) }, () => ALPHABET[int(ALPHABET.length)]).join('')
  /** A needle: a piece of a real text (a hit, in another case maybe), or random, short or too long. */
  const needle = (texts: string[]): string => {
    const kind = int(6)
    const source = texts[int(texts.length)] ?? 'a'
    const chars = [...source]
    if (kind <= 1) {
      const start = int(chars.length)
      const piece = chars.slice(start, start + 1 + int(4)).join('')
      return kind === 0 ? piece : piece.toUpperCase()
    }
    if (kind === 2) return text(1, 2)
    if (kind === 3) return text(3, 5)
    if (kind === 4) return `${source}${text(1, 3)}`
    return text(40, 50)
  }
  return { int, text, needle }
}

const naive = (haystacks: string[], q: string): boolean => haystacks.some((h) => h.toLowerCase().includes(q.toLowerCase()))

async function allBooks (books: BookStore): Promise<Book[]> {
  const all: Book[] = []
  for (let after = 0; ;) {
    const page = await books.list({ offset: 0, after, limit: 100 })
    all.push(...page)
    if (page.length < 100) return all
    after = page[page.length - 1]?.id ?? after
  }
}

/**
 * The store's book search equals a naive scan of toLowerCase() text over everything the store
 * holds, ids in order, with limit, offset and after. Bounded: `queries` searches.
 */
export function bookSearchDifferential (t: Test, open: () => Promise<BookStore>, queries = 150): void {
  t.test(`book search equals a naive toLowerCase() scan (seed ${SEED})`, async (t) => {
    const books = await open()
    const g = generator(SEED)
    for (let i = 0; i < 40; i++) await books.create({ title: g.text(1, 12), author: g.text(1, 8) })
    const catalogue = await allBooks(books)
    const texts = catalogue.flatMap((b) => [b.title, b.author])
    let mismatches = 0
    for (let i = 0; i < queries && mismatches < 5; i++) {
      const q = g.needle(texts)
      const limit = 1 + g.int(7)
      const keyset = g.int(2) === 0
      const after = keyset ? (catalogue[g.int(catalogue.length)]?.id ?? 0) : 0
      const offset = keyset ? 0 : g.int(4)
      const expected = catalogue.filter((b) => b.id > after && naive([b.title, b.author], q)).slice(offset, offset + limit).map((b) => b.id)
      const got = (await books.list({ offset, limit, after, q })).map((b) => b.id)
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        mismatches++
        const shown = (ids: number[]) => ids.map((id) => catalogue.find((b) => b.id === id)).map((b) => `${b?.id} ${JSON.stringify([b?.title, b?.author])}`)
        t.same(got, expected, `q=${JSON.stringify(q)} after=${after} offset=${offset} limit=${limit}; expected ${shown(expected).join(', ')}; got ${shown(got).join(', ')}`)
      }
    }
    t.equal(mismatches, 0, `${queries} searches agree with the naive scan`)
  })
}

/** The same for a book's reviews: title or content, newest first, offset and limit. */
export function reviewSearchDifferential (t: Test, open: () => Promise<{ reviews: ReviewStore, newBookId: () => Promise<number> }>, queries = 120): void {
  t.test(`review search equals a naive toLowerCase() scan (seed ${SEED})`, async (t) => {
    const { reviews, newBookId } = await open()
    const g = generator(SEED + 1)
    const bookId = await newBookId()
    for (let i = 0; i < 30; i++) {
      await reviews.create({ book_id: bookId, user_id: 1, author: 'A', title: g.text(1, 12), content: g.text(1, 20) })
    }
    const all: Review[] = await reviews.listByBook(bookId, { offset: 0, limit: 100 })
    const texts = all.flatMap((r) => [r.title, r.content])
    let mismatches = 0
    for (let i = 0; i < queries && mismatches < 5; i++) {
      const q = g.needle(texts)
      const limit = 1 + g.int(7)
      const offset = g.int(4)
      const expected = all.filter((r) => naive([r.title, r.content], q)).slice(offset, offset + limit).map((r) => r.id)
      const got = (await reviews.listByBook(bookId, { offset, limit, q })).map((r) => r.id)
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        mismatches++
        t.same(got, expected, `q=${JSON.stringify(q)} offset=${offset} limit=${limit}`)
      }
    }
    t.equal(mismatches, 0, `${queries} searches agree with the naive scan`)
  })
}
