import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { loadConfig } from '../../config/load'
import { projectRoot } from '../../config/paths'
import {
  BODY_LIMIT, BODY_LIMIT_TEXT, JSON_CONTENT_TYPE, JSON_MEDIA_TYPE, MAX_PARAM_LENGTH, MAX_URL_LENGTH, urlProblem, withCommas
} from '../../src/http/limits'
import { serverOptions } from '../../src/http/server-options'

t.test('the contract\'s figures', async (t) => {
  t.equal(BODY_LIMIT, 65536)
  t.equal(BODY_LIMIT_TEXT, '64 KiB')
  t.equal(MAX_PARAM_LENGTH, 100)
  t.equal(MAX_URL_LENGTH, 2048)
  t.equal(JSON_MEDIA_TYPE, 'application/json')
  t.equal(JSON_CONTENT_TYPE, 'application/json; charset=utf-8')
})

t.test('docs/API.md states the limits the code applies', async (t) => {
  const reference = readFileSync(path.join(projectRoot, 'docs', 'API.md'), 'utf8')
  t.ok(reference.includes(`Bodies over ${BODY_LIMIT_TEXT} are 413`))
  t.ok(reference.includes(`a path parameter over ${MAX_PARAM_LENGTH} characters or a URL over ${withCommas(MAX_URL_LENGTH)} characters`))
  t.ok(reference.includes(`(\`${JSON_CONTENT_TYPE}\`)`))
})

t.test('the server is created with the limits', async (t) => {
  const options = serverOptions(loadConfig({ overrides: { databaseUrl: 'sqlite::memory:', logLevel: 'silent' } }))
  t.equal(options.bodyLimit, BODY_LIMIT)
  t.equal(options.routerOptions?.maxParamLength, MAX_PARAM_LENGTH)
})

t.test('thousands are written as the docs write them', async (t) => {
  t.equal(withCommas(100), '100')
  t.equal(withCommas(2048), '2,048')
  t.equal(withCommas(1234567), '1,234,567')
})

t.test('urlProblem: the length and the query\'s percent-encoding', async (t) => {
  const at = `/books?x=${'x'.repeat(MAX_URL_LENGTH - '/books?x='.length)}`
  t.equal(at.length, MAX_URL_LENGTH)
  t.equal(urlProblem(at), undefined, 'exactly the limit passes')
  t.equal(urlProblem(`${at}x`), 'too-long', 'one more is too long')
  t.equal(urlProblem(`/books/%ff${'x'.repeat(MAX_URL_LENGTH)}`), 'too-long', 'length first, whatever the encoding')
  t.equal(urlProblem('/books?q=%41%20b'), undefined, 'valid escapes')
  t.equal(urlProblem('/books?q=%C3%A9'), undefined, 'a valid UTF-8 sequence')
  t.equal(urlProblem('/books?q=%ff'), 'bad-encoding', 'not UTF-8')
  t.equal(urlProblem('/books?q=%zz'), 'bad-encoding', 'not hex')
  t.equal(urlProblem('/books?q=100%'), 'bad-encoding', 'a lone %')
  t.equal(urlProblem('/books/%ff'), undefined, 'the path is the router\'s to check')
  t.equal(urlProblem('/books'), undefined)
})
