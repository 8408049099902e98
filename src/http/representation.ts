/**
 * Conditional requests (the contract's "Caching and conditional requests"): an entity tag
 * is a resource's strong tag, quoted; If-None-Match and If-Match list such tags.
 */

/** The ETag header's value for a strong tag. */
export const etag = (tag: string): string => `"${tag}"`

/** Entity tags of an If-None-Match / If-Match list, `W/` kept (If-Match compares strongly). */
const tagsOf = (header: string): string[] => header.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '')

/** If-None-Match compares weakly: W/"x" matches "x". `quoted` is the ETag sent. */
export function noneMatch (header: string | undefined, quoted: string): boolean {
  if (header === undefined) return false
  if (header === quoted || header.trim() === '*') return true
  return tagsOf(header).some((tag) => (tag.startsWith('W/') ? tag.slice(2) : tag) === quoted)
}

const isQuoted = (tag: string): boolean => tag.length >= 2 && tag.startsWith('"') && tag.endsWith('"')

/**
 * If-Match compares strongly: undefined (absent), '*', or the strong tags it lists, unquoted.
 * A weak or malformed entity tag matches nothing, so it is left out of the list.
 */
export function parseIfMatch (header: string | undefined): '*' | string[] | undefined {
  if (header === undefined) return undefined
  if (header.trim() === '*') return '*'
  return tagsOf(header).filter(isQuoted).map((tag) => tag.slice(1, -1))
}
