/**
 * `npm run openapi`: writes the OpenAPI document the service serves at /docs/json to
 * docs/openapi.json, so API consumers can generate clients from the repository.
 * test/docs/openapi-file.test.ts fails when the committed file is out of date.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../config/load'
import { projectRoot } from '../config/paths'
import { buildApp } from '../src/build'

export const OPENAPI_FILE = path.join(projectRoot, 'docs', 'openapi.json')

/**
 * The document as the embedded default configuration serves it, as stable text: 2-space JSON
 * and a final newline; paths and schemas in the fixed order src/http/openapi.ts gives.
 */
export async function renderOpenapi (): Promise<string> {
  // No environment: the file must not depend on who runs the script. In memory: no file.
  const config = loadConfig({ overrides: { databaseUrl: 'sqlite::memory:', logLevel: 'silent' } })
  const fastify = buildApp(config)
  await fastify.ready()
  try {
    return `${JSON.stringify(fastify.swagger(), null, 2)}\n`
  } finally {
    await fastify.close()
  }
}

if (require.main === module) {
  renderOpenapi().then((text) => {
    writeFileSync(OPENAPI_FILE, text)
    console.log(`wrote ${path.relative(process.cwd(), OPENAPI_FILE)}`)
  }).catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
}
