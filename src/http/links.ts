/** The relative URLs the API answers with: Location of a created resource, Link to the next page. */

/** A created resource's URL (the Location header): `/books/12`, `/reviews/65a…`. */
export const resourceUrl = (collection: 'books' | 'reviews', id: number | string): string => `/${collection}/${id}`

/** Where the page after a full one starts: after an id (keyset, `after=`) or at an offset (`o=`). */
type NextPage = { after: number } | { offset: number }

/**
 * The URL of the page after a full one: the same list and `limit`, the same search (`q`,
 * percent-encoded; none when empty), the cursor moved on.
 */
export function nextPageUrl (path: string, next: NextPage, limit: number, q?: string): string {
  const cursor = 'after' in next ? `after=${next.after}` : `o=${next.offset}`
  const query = q === undefined || q === '' ? '' : `&q=${encodeURIComponent(q)}`
  return `${path}?${cursor}&limit=${limit}${query}`
}

/** The Link header's value naming the next page. */
export const nextLink = (url: string): string => `<${url}>; rel="next"`
