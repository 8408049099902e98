/**
 * The contract's limits on what a request may be, and its one media type. The server options,
 * the URL check, the error sentences and the OpenAPI descriptions all read them from here.
 */

/** Bodies in this API are small JSON documents: a larger one is 413. */
export const BODY_LIMIT = 64 * 1024
/** A path parameter longer than this is 414 (the router's maxParamLength). */
export const MAX_PARAM_LENGTH = 100
/** A URL longer than this is 414. */
export const MAX_URL_LENGTH = 2048

/** The only body type a request may send. */
export const JSON_MEDIA_TYPE = 'application/json'
/** What every JSON answer says it is. */
export const JSON_CONTENT_TYPE = `${JSON_MEDIA_TYPE}; charset=utf-8`

/** Seconds a shed client is told to wait (readiness too, while shedding): pressure is measured every second. */
export const SHED_RETRY_AFTER_SECONDS = 2

/** The body limit as people write it: "64 KiB". */
export const BODY_LIMIT_TEXT = `${BODY_LIMIT / 1024} KiB`

/** A number with thousands separators, as the docs write it: 2048 → "2,048". */
export const withCommas = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')

function decodes (text: string): boolean {
  try {
    decodeURIComponent(text)
    return true
  } catch {
    return false
  }
}

/**
 * The URL rules the router does not apply itself: at most MAX_URL_LENGTH characters, and a
 * query string that is valid percent-encoding (Fastify's query parser leaves `%ff` as it is,
 * so `?q=%ff` would search for three characters). What the URL breaks, if anything.
 */
export function urlProblem (url: string): 'too-long' | 'bad-encoding' | undefined {
  if (url.length > MAX_URL_LENGTH) return 'too-long'
  const query = url.indexOf('?')
  if (query !== -1 && url.includes('%', query) && !decodes(url.slice(query + 1))) return 'bad-encoding'
  return undefined
}
