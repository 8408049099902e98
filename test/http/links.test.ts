import t from 'tap'
import { nextLink, nextPageUrl, resourceUrl } from '../../src/http/links'
import { etag, noneMatch, parseIfMatch } from '../../src/http/representation'

t.test('next page URLs keep the list, the limit and the search, with the cursor moved on', async (t) => {
  t.equal(nextPageUrl('/books', { after: 42 }, 20), '/books?after=42&limit=20')
  t.equal(nextPageUrl('/books', { after: 42 }, 20, ''), '/books?after=42&limit=20', 'an empty q is no search')
  t.equal(nextPageUrl('/books/7/reviews', { offset: 40 }, 20, 'a&b c/é'), '/books/7/reviews?o=40&limit=20&q=a%26b%20c%2F%C3%A9')
  t.equal(nextPageUrl('/audit-events', { before: 40 }, 20, undefined, { user_id: 3, type: 'user.signed_in', before: undefined }),
    '/audit-events?before=40&limit=20&user_id=3&type=user.signed_in', 'filters kept, unset ones left out')
  t.equal(nextPageUrl('/audit-events', { before: 40 }, 20, undefined, { type: 'a b&c' }), '/audit-events?before=40&limit=20&type=a%20b%26c')
  t.equal(nextLink('/books?after=1&limit=2'), '</books?after=1&limit=2>; rel="next"')
  t.equal(resourceUrl('books', 12), '/books/12')
  t.equal(resourceUrl('reviews', '65a0c0ffee0000000000beef'), '/reviews/65a0c0ffee0000000000beef')
})

t.test('entity tags: quoted for ETag, unquoted from If-Match, weakly compared for If-None-Match', async (t) => {
  t.equal(etag('abc'), '"abc"')
  t.equal(parseIfMatch(undefined), undefined)
  t.equal(parseIfMatch(' * '), '*')
  t.same(parseIfMatch('"a", W/"b", c, "d"'), ['a', 'd'], 'weak and malformed tags match nothing')
  t.same(parseIfMatch(' , '), [], 'an empty list is still a condition')
  t.equal(noneMatch(undefined, '"a"'), false)
  t.equal(noneMatch('"a"', '"a"'), true)
  t.equal(noneMatch('"x", W/"a"', '"a"'), true)
  t.equal(noneMatch('*', '"a"'), true)
  t.equal(noneMatch('"x"', '"a"'), false)
})
