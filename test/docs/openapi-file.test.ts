import { readFileSync } from 'node:fs'
import t from 'tap'
import { OPENAPI_FILE, renderOpenapi } from '../../scripts/openapi'

t.test('docs/openapi.json is what the service serves', async (t) => {
  // On a difference tap prints the diff of the two texts, line by line.
  t.equal(readFileSync(OPENAPI_FILE, 'utf8'), await renderOpenapi(),
    'docs/openapi.json is out of date: run `npm run openapi` and commit it')
})
