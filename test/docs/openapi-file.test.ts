import { readFileSync } from 'node:fs'
import t from 'tap'
import { OPENAPI_FILE, renderOpenapi } from '../../scripts/openapi'

t.test('docs/openapi.json is what the service serves', async (t) => {
  const committed = readFileSync(OPENAPI_FILE, 'utf8')
  const current = await renderOpenapi()
  if (committed === current) return t.pass('docs/openapi.json is up to date')
  const was = committed.split('\n')
  const now = current.split('\n')
  const differs = now.findIndex((text, i) => text !== was[i])
  const line = differs === -1 ? now.length : differs
  t.fail(`docs/openapi.json is out of date: run \`npm run openapi\` and commit it (first difference at line ${line + 1}, which should read: ${now[line]?.trim() ?? '(end of file)'})`)
})
