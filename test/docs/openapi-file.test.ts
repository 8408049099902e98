import { readFileSync } from 'node:fs'
import t from 'tap'
import { OPENAPI_FILE, renderOpenapi } from '../../scripts/openapi'

t.test('docs/openapi.json is what the service serves', async (t) => {
  const committed = readFileSync(OPENAPI_FILE, 'utf8')
  const current = await renderOpenapi()
  t.ok(committed === current, 'docs/openapi.json is out of date: run `npm run openapi` and commit it')
})
