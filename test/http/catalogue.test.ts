import { readFileSync } from 'node:fs'
import path from 'node:path'
import { STATUS_CODES } from 'node:http'
import t from 'tap'
import { projectRoot } from '../../config/paths'
import { ERROR_CODES, ERROR_STATUS, notFound, type ErrorCode } from '../../src/domain/errors'
import { CODE_BY_STATUS, FASTIFY_ERRORS, whenAnswered, type OperationCode } from '../../src/http/errors'

/** The rows of docs/API.md's "Error codes" table: `| \`CODE\` | status | when |`. */
function contractCodes (): Array<[string, number]> {
  const text = readFileSync(path.join(projectRoot, 'docs', 'API.md'), 'utf8')
  const start = text.indexOf('\n## Error codes')
  const end = text.indexOf('\n## ', start + 1)
  const section = text.slice(start, end === -1 ? undefined : end)
  return [...section.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1] as string, Number(m[2])])
}

t.test('the catalogue is the contract\'s list of codes, in its order, with its statuses', async (t) => {
  const rows = contractCodes()
  t.ok(rows.length > 20, 'the contract\'s table is found')
  t.same(ERROR_CODES, rows.map(([code]) => code), 'the same codes in the same order')
  for (const [code, status] of rows) t.equal(ERROR_STATUS[code as ErrorCode], status, `${code} answers ${status}`)
})

t.test('every status in the catalogue is an HTTP error status', async (t) => {
  for (const code of ERROR_CODES) {
    const status = ERROR_STATUS[code]
    t.ok(status >= 400 && status <= 599 && STATUS_CODES[status] !== undefined, `${code}: ${status}`)
  }
})

t.test('a domain error takes its status from the catalogue', async (t) => {
  for (const what of ['book', 'review', 'user', 'session'] as const) {
    const err = notFound(what)
    t.ok(ERROR_CODES.includes(err.code), `${err.code} is in the catalogue`)
    t.equal(err.statusCode, 404)
  }
})

t.test('each code\'s sentence in the OpenAPI document names no other code', async (t) => {
  for (const code of ERROR_CODES.filter((c): c is OperationCode => c !== 'ROUTE_NOT_FOUND')) {
    const named = whenAnswered(code).match(/\b[A-Z]{2,}(?:_[A-Z]+)+\b/g) ?? []
    t.same(named, [], `${code}: "${whenAnswered(code)}"`)
  }
})

t.test('the fallback code of a status answers that status', async (t) => {
  t.ok(Object.keys(CODE_BY_STATUS).length > 0)
  for (const [status, code] of Object.entries(CODE_BY_STATUS)) t.equal(ERROR_STATUS[code], Number(status), `${status} → ${code}`)
  t.equal(CODE_BY_STATUS[404], 'ROUTE_NOT_FOUND', 'a 404 without a code of its own is an unknown route')
  t.equal(CODE_BY_STATUS[429], 'RATE_LIMITED')
  t.equal(CODE_BY_STATUS[400], undefined, 'a 400 without a code of its own is VALIDATION_ERROR, by the handler')
})

t.test('Fastify\'s own errors map to codes of the catalogue', async (t) => {
  for (const [fastifyCode, [code]] of Object.entries(FASTIFY_ERRORS)) t.ok(ERROR_CODES.includes(code), `${fastifyCode} → ${code}`)
})
