/** The relative URLs the API answers with: Location of a created resource, Link to the next page. */

/** A created resource's URL (the Location header): `/books/12`, `/reviews/65a…`. */
export const resourceUrl = (collection: 'books' | 'reviews', id: number | string): string => `/${collection}/${id}`

/**
 * Where the page after a full one starts: after an id (keyset ascending, `after=`), before
 * one (keyset newest first, `before=`) or at an offset (`o=`).
 */
type NextPage = { after: number } | { before: number } | { offset: number }

const cursorOf = (next: NextPage): string =>
  'after' in next ? `after=${next.after}` : 'before' in next ? `before=${next.before}` : `o=${next.offset}`

/**
 * The URL of the page after a full one: the same list and `limit`, the same search (`q`,
 * percent-encoded; none when empty) and filters (each percent-encoded; those unset left out),
 * the cursor moved on.
 */
export function nextPageUrl (path: string, next: NextPage, limit: number, q?: string, filters: Record<string, string | number | undefined> = {}): string {
  const query = q === undefined || q === '' ? '' : `&q=${encodeURIComponent(q)}`
  const filtered = Object.entries(filters).filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([name, value]) => `&${encodeURIComponent(name)}=${encodeURIComponent(value)}`).join('')
  return `${path}?${cursorOf(next)}&limit=${limit}${query}${filtered}`
}

/** The Link header's value naming the next page. */
export const nextLink = (url: string): string => `<${url}>; rel="next"`
