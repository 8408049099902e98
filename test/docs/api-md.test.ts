import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../config/paths'
import { renderOpenapi } from '../../scripts/openapi'

/** docs/API.md names every operation and every error code of the document the service serves. */
t.test('docs/API.md covers the OpenAPI document', async (t) => {
  const reference = readFileSync(path.join(projectRoot, 'docs', 'API.md'), 'utf8')
  const doc = JSON.parse(await renderOpenapi()) as {
    paths: Record<string, Record<string, { operationId?: string }>>
    components: { schemas: { ErrorResponse: { properties: { code: { enum: string[] } } } } }
  }
  const operations = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${p}`, id: op.operationId })))
  t.ok(operations.length > 0)
  for (const { key, id } of operations) {
    t.ok(reference.includes(`\`${key}\``), `${key} appears`)
    t.ok(reference.includes(`\`${String(id)}\``), `${key}'s operationId ${String(id)} appears`)
  }
  const codes = doc.components.schemas.ErrorResponse.properties.code.enum
  t.ok(codes.length > 0)
  for (const code of codes) t.ok(new RegExp(`\\| \`${code}\` \\|`).test(reference), `error code ${code} has a row`)
})
