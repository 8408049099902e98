import t from 'tap'
import { SAMPLE_BOOK, bearer, build, errorBody, userWith } from '../support/app'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const REVIEW_NOT_FOUND = errorBody(404, 'REVIEW_NOT_FOUND', 'Not Found', 'Review not found')
const BOOK_NOT_FOUND = errorBody(404, 'BOOK_NOT_FOUND', 'Not Found', 'Book not found')
const FORBIDDEN = errorBody(403, 'FORBIDDEN', 'Forbidden', 'Unauthorized')

t.test('review routes', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const writer = await userWith(app, 1)
  const stranger = await userWith(app, 1)
  const admin = await userWith(app, 3)
  const none = await userWith(app, 0)
  const book = (await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).json()
  const post = (payload: object, token = writer.token) => app.inject({ method: 'POST', url: '/reviews', headers: bearer(token), payload })

  t.test('POST /reviews: 201, the stored review, author defaulting to the email', async (t) => {
    const res = await post({ book_id: book.id, title: 'Great', content: 'Loved it' })
    t.equal(res.statusCode, 201)
    const review = res.json()
    t.same(review, {
      id: review.id, book_id: book.id, author: writer.email, title: 'Great', content: 'Loved it',
      created_at: review.created_at, updated_at: review.created_at
    })
    t.match(review.id, /^[0-9a-f]{24}$/)
    t.match(review.created_at, ISO_UTC)
    t.equal(res.headers.location, `/reviews/${review.id}`)
    t.same((await app.inject({ url: `/reviews/${review.id}` })).json(), review)

    const named = await post({ book_id: book.id, title: 'Fine', content: 'ok', author: 'Jane' })
    t.equal(named.json().author, 'Jane', 'a display name may be given')
  })

  t.test('POST /reviews on a missing book is 404 and stores nothing', async (t) => {
    const res = await post({ book_id: 999999, title: 'Ghost', content: 'Boo' })
    t.equal(res.statusCode, 404)
    t.same(res.json(), BOOK_NOT_FOUND)
  })

  const invalid: Array<[string, object, string]> = [
    ['no book_id', { title: 't', content: 'c' }, '/book_id'],
    ['a string book_id', { book_id: String(book.id), title: 't', content: 'c' }, '/book_id'],
    ['an empty title', { book_id: book.id, title: '', content: 'c' }, '/title'],
    ['a 256-character title', { book_id: book.id, title: 't'.repeat(256), content: 'c' }, '/title'],
    ['content over 10,000 characters', { book_id: book.id, title: 't', content: 'c'.repeat(10001) }, '/content'],
    ['an empty author', { book_id: book.id, title: 't', content: 'c', author: '' }, '/author'],
    ['a user_id smuggled in', { book_id: book.id, title: 't', content: 'c', user_id: admin.id }, '/user_id'],
    ['null content', { book_id: book.id, title: 't', content: null }, '/content']
  ]
  for (const [what, payload, path] of invalid) {
    t.test(`POST /reviews refuses ${what}`, async (t) => {
      const res = await post(payload)
      t.equal(res.statusCode, 400)
      t.match(res.json(), { statusCode: 400, code: 'VALIDATION_ERROR', error: 'Bad Request' })
      t.ok(res.json().details.some((d: { path: string }) => d.path === path), path)
    })
  }

  t.test('POST /reviews needs a User token', async (t) => {
    const anonymous = await app.inject({ method: 'POST', url: '/reviews', payload: { book_id: book.id, title: 't', content: 'c' } })
    t.equal(anonymous.statusCode, 401)
    t.same(anonymous.json(), errorBody(401, 'TOKEN_REQUIRED', 'Unauthorized', 'Token is required'))
    const noLevel = await post({ book_id: book.id, title: 't', content: 'c' }, none.token)
    t.same([noLevel.statusCode, noLevel.json()], [403, FORBIDDEN])
  })

  t.test('the writer edits; a stranger cannot; an Admin moderates', async (t) => {
    const review = (await post({ book_id: book.id, title: 'Draft', content: 'first' })).json()
    const put = (token: string, payload: object) => app.inject({ method: 'PUT', url: `/reviews/${review.id}`, headers: bearer(token), payload })

    const edited = await put(writer.token, { title: 'Final', content: 'second' })
    t.equal(edited.statusCode, 200)
    t.same(edited.json(), { ...review, title: 'Final', content: 'second', updated_at: edited.json().updated_at })
    t.ok(edited.json().updated_at >= review.updated_at)

    const hijack = await put(stranger.token, { title: 'Hijacked', content: 'mine now' })
    t.same([hijack.statusCode, hijack.json()], [403, FORBIDDEN])
    t.equal((await app.inject({ url: `/reviews/${review.id}` })).json().title, 'Final', 'the stranger changed nothing')

    const authorLevel = await put(author.token, { title: 'Author', content: 'not an admin' })
    t.equal(authorLevel.statusCode, 403, 'Author is not enough to edit another’s review')

    const moderated = await put(admin.token, { title: 'Moderated', content: 'edited by an admin' })
    t.equal(moderated.statusCode, 200)
    t.equal(moderated.json().author, writer.email, 'moderation keeps the writer')

    for (const payload of [{ title: 'x' }, { title: 'x', content: 'y', book_id: 2 }, { title: 'x', content: 5 }]) {
      t.equal((await put(writer.token, payload)).statusCode, 400, JSON.stringify(payload))
    }
    const anonymous = await app.inject({ method: 'PUT', url: `/reviews/${review.id}`, payload: { title: 'x', content: 'y' } })
    t.equal(anonymous.statusCode, 401)
  })

  t.test('the writer deletes; a stranger cannot; an Admin may', async (t) => {
    const mine = (await post({ book_id: book.id, title: 'Mine', content: 'c' })).json()
    const theirs = (await post({ book_id: book.id, title: 'Theirs', content: 'c' })).json()
    const del = (id: string, token?: string) =>
      app.inject({ method: 'DELETE', url: `/reviews/${id}`, ...(token === undefined ? {} : { headers: bearer(token) }) })

    t.same([(await del(mine.id, stranger.token)).statusCode, (await del(mine.id, stranger.token)).json()], [403, FORBIDDEN])
    t.equal((await del(mine.id)).statusCode, 401)
    const gone = await del(mine.id, writer.token)
    t.equal(gone.statusCode, 204)
    t.equal(gone.body, '')
    t.same((await app.inject({ url: `/reviews/${mine.id}` })).json(), REVIEW_NOT_FOUND)
    t.same((await del(mine.id, writer.token)).json(), REVIEW_NOT_FOUND)
    t.equal((await del(theirs.id, admin.token)).statusCode, 204, 'an Admin removes any review')
  })

  t.test('ids: malformed is 400, unknown is 404, never 500', async (t) => {
    for (const id of ['abc', '123', 'ZZZZZZZZZZZZZZZZZZZZZZZZ', `${'a'.repeat(23)}`, `${'a'.repeat(25)}`, '%7B%22%24gt%22%3A%22%22%7D']) {
      const res = await app.inject({ url: `/reviews/${id}` })
      t.equal(res.statusCode, 400, id)
      t.equal(res.json().code, 'VALIDATION_ERROR')
    }
    t.same((await app.inject({ url: `/reviews/${'0'.repeat(24)}` })).json(), REVIEW_NOT_FOUND)
    const put = await app.inject({ method: 'PUT', url: `/reviews/${'0'.repeat(24)}`, headers: bearer(writer.token), payload: { title: 't', content: 'c' } })
    t.same(put.json(), REVIEW_NOT_FOUND)
  })
})

t.test('GET /books/:id/reviews: newest first, paged, searched', async (t) => {
  const app = await build(t, { pageSize: 3 })
  const author = await userWith(app, 2)
  const writer = await userWith(app, 1)
  const book = (await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).json()
  const other = (await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).json()
  const ids: string[] = []
  for (let i = 0; i < 5; i++) {
    const content = i === 1 ? 'A (50%) .* [odd] review' : `Plain text ${i}`
    const res = await app.inject({ method: 'POST', url: '/reviews', headers: bearer(writer.token), payload: { book_id: book.id, title: i === 3 ? 'ÉCLATANT' : `Review ${i}`, content } })
    ids.push(res.json().id)
  }
  await app.inject({ method: 'POST', url: '/reviews', headers: bearer(writer.token), payload: { book_id: other.id, title: 'Review elsewhere', content: 'x' } })
  const list = async (qs: string, bookId = book.id) => {
    const res = await app.inject({ url: `/books/${bookId}/reviews${qs}` })
    t.equal(res.statusCode, 200, qs)
    return res.json().map((r: { id: string }) => r.id)
  }
  const newest = [...ids].reverse()
  t.same(await list(''), newest.slice(0, 3), 'default page size, newest first')
  t.same(await list('?o=3'), newest.slice(3))
  t.same(await list('?limit=1&o=1'), [newest[1]])
  t.same(await list('?q=review&limit=100'), [ids[4], ids[2], ids[1], ids[0]], 'title or content, case-insensitive')
  t.same(await list('?q=%C3%A9clatant'), [ids[3]], 'non-ASCII case folds')
  t.same(await list('?q=.*'), [ids[1]], 'regex characters are literal')
  t.same(await list('?q=%25)'), [ids[1]], '% is literal')
  t.same(await list('?q=[odd]'), [ids[1]])
  t.same(await list('?q=(a'), [], 'an unbalanced pattern is just text')

  const res = await app.inject({ url: '/books/999999/reviews' })
  t.same([res.statusCode, res.json()], [404, BOOK_NOT_FOUND])
  for (const qs of ['?limit=0', '?limit=101', '?o=-1', '?o=x']) {
    t.equal((await app.inject({ url: `/books/${book.id}/reviews${qs}` })).statusCode, 400, qs)
  }
  t.equal((await app.inject({ url: '/books/abc/reviews' })).statusCode, 400)
})

t.test('deleting a book deletes its reviews', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const book = (await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).json()
  const review = (await app.inject({ method: 'POST', url: '/reviews', headers: bearer(author.token), payload: { book_id: book.id, title: 't', content: 'c' } })).json()
  t.equal((await app.inject({ method: 'DELETE', url: `/books/${book.id}`, headers: bearer(author.token) })).statusCode, 204)
  t.same((await app.inject({ url: `/reviews/${review.id}` })).json(), REVIEW_NOT_FOUND)
  t.equal(await app.stores.reviews.get(review.id), undefined, 'gone from the store, not just hidden')
  t.same((await app.inject({ url: `/books/${book.id}/reviews` })).json(), BOOK_NOT_FOUND)
})

t.test('a review whose book vanished (a crash between two databases) is never shown', async (t) => {
  const app = await build(t)
  const author = await userWith(app, 2)
  const book = (await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).json()
  const review = (await app.inject({ method: 'POST', url: '/reviews', headers: bearer(author.token), payload: { book_id: book.id, title: 't', content: 'c' } })).json()
  // Simulate the crash: the book store forgets the book while the review stays stored, and
  // the cache is invalidated, as the book's deletion does (another write does it here).
  const originalGet = app.stores.books.get
  app.stores.books.get = async (id) => (id === book.id ? undefined : originalGet(id))
  t.teardown(() => { app.stores.books.get = originalGet })
  t.equal((await app.inject({ method: 'POST', url: '/books', headers: bearer(author.token), payload: SAMPLE_BOOK })).statusCode, 201)
  t.ok(await app.stores.reviews.get(review.id), 'the orphan is still stored')
  t.same((await app.inject({ url: `/reviews/${review.id}` })).json(), REVIEW_NOT_FOUND)
  t.same((await app.inject({ url: `/books/${book.id}/reviews` })).json(), BOOK_NOT_FOUND)
  const put = await app.inject({ method: 'PUT', url: `/reviews/${review.id}`, headers: bearer(author.token), payload: { title: 'x', content: 'y' } })
  t.same(put.json(), REVIEW_NOT_FOUND)
})
