/**
 * The baselines of `npm run bench`: a bare Fastify 5 server (no plugins, no logger) whose
 * routes send the very bytes the service answered, recorded by bench/books.ts. Mode `body`
 * sends the body alone (what the service costs beyond it is its own work: validation, hooks,
 * cache, headers, logs); mode `headers` also sends every header the service put on that answer
 * (security headers, ETag, Cache-Control, Vary, Link, a fresh X-Request-Id): the same bytes on
 * the wire, so what is left is the work behind them.
 *   node dist-test/bench/baseline.js recordings.json port body|headers
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'

interface Recording { path: string, contentType: string, headers: Record<string, string>, body: string }

async function main (): Promise<void> {
  const [file = '', port = '0', mode = 'body'] = process.argv.slice(2)
  const recordings = JSON.parse(readFileSync(file, 'utf8')) as Recording[]
  const bodies = new Map(recordings.map((r) => [r.path, { type: r.contentType, headers: r.headers, body: Buffer.from(r.body, 'base64') }]))
  const app = Fastify()
  const send = async (request: FastifyRequest, reply: FastifyReply) => {
    const recorded = bodies.get(request.url)
    if (recorded === undefined) return reply.code(404).send()
    if (mode === 'headers') reply.headers(recorded.headers).header('x-request-id', randomUUID())
    return reply.type(recorded.type).send(recorded.body)
  }
  app.get('/books', send)
  app.get('/books/:id', send)
  await app.listen({ host: '127.0.0.1', port: Number(port) })
  process.send?.('listening')
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
