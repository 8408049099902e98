import Fastify, { type RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import app from '../../src/app'
import { serverOptions } from '../../config/server-options'
import { testConfig } from '../helper'

interface Operation {
  tags?: string[]
  summary?: string
  security?: unknown[]
  parameters?: Array<{ in: string, name: string }>
  requestBody?: unknown
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>
}

t.test('the OpenAPI document covers every route and every status it can answer', async (t) => {
  const config = testConfig()
  const fastify = Fastify(serverOptions(config))
  // The routes as the app registers them: their hooks and config say what they can answer.
  const routes: RouteOptions[] = []
  fastify.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/docs') && route.method !== 'HEAD') routes.push(route)
  })
  await fastify.register(fp(app), { config })
  await fastify.ready()
  t.teardown(() => fastify.close())

  const res = await fastify.inject({ url: '/docs/json' })
  t.equal(res.statusCode, 200)
  const doc = res.json<{ openapi: string, paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, unknown>, securitySchemes: Record<string, unknown> } }>()
  t.match(doc.openapi, /^3\./)
  t.match(doc.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer' } })
  t.ok(doc.components.schemas.ErrorResponse, 'one shared error schema')

  const seen = new Set<string>()
  for (const route of routes) {
    const url = route.url.length > 1 ? route.url.replace(/\/$/, '') : route.url
    const path = url.replace(/:(\w+)/g, '{$1}')
    for (const method of [route.method].flat()) {
      const key = `${method} ${path}`
      if (seen.has(key)) continue
      seen.add(key)
      const op = doc.paths[path]?.[method.toLowerCase()]
      if (op === undefined) {
        t.fail(`${key} is not documented`)
        continue
      }
      const hooks = [route.onRequest ?? []].flat()
      const protectedRoute = hooks.some((h) => h.name === 'permissionHook')
      const rateLimited = (route.config as { rateLimit?: unknown } | undefined)?.rateLimit !== undefined
      const hasInput = (op.parameters ?? []).length > 0 || op.requestBody !== undefined
      const required = [
        500,
        ...(path.startsWith('/health/live') || path === '/' ? [] : [503]),
        ...(hasInput ? [400] : []),
        ...(protectedRoute ? [401, 403] : []),
        ...(op.requestBody !== undefined ? [413, 415] : []),
        ...(path.includes('{id}') ? [404] : []),
        ...(rateLimited ? [429] : [])
      ]
      const documented = Object.keys(op.responses).map(Number)
      t.ok(documented.some((s) => s >= 200 && s < 300), `${key} documents its success`)
      for (const status of required) {
        t.ok(documented.includes(status), `${key} documents ${status}`)
        if (status !== 204) t.ok(op.responses[String(status)]?.content?.['application/json']?.schema, `${key} ${status} has a schema`)
      }
      t.ok((op.tags ?? []).length > 0 && (op.summary ?? '') !== '', `${key} has tags and a summary`)
      t.equal(op.security !== undefined, protectedRoute, `${key}: security is declared exactly when a permission hook guards it`)

      // And the running service agrees: protected routes refuse a missing token, the rest do not.
      const probe = await fastify.inject({ method: method as 'GET', url: path.replace('{id}', '1'), ...(op.requestBody === undefined ? {} : { payload: {} }) })
      if (protectedRoute) t.equal(probe.statusCode, 401, `${key} without a token is 401`)
      else t.not(probe.statusCode, 401, `${key} is public`)
    }
  }
  t.ok(seen.size >= 16, `every route was checked (${seen.size})`)
  const documentedOps = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
  t.same(documentedOps.filter((k) => !seen.has(k)), [], 'the document has no route the app lacks')
})

t.test('GET /docs serves the explorer page', async (t) => {
  const config = testConfig()
  const fastify = Fastify(serverOptions(config))
  await fastify.register(fp(app), { config })
  t.teardown(() => fastify.close())
  let res = await fastify.inject({ url: '/docs' })
  if (res.statusCode === 302) res = await fastify.inject({ url: String(res.headers.location) })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/html/)
  t.match(res.body, /swagger-ui/i)
})
