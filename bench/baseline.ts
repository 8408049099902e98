/**
 * The baseline of `npm run bench`: a bare Fastify 5 server (no plugins, no logger) whose
 * routes send the very bytes the service answered, recorded by bench/books.ts. What the
 * service costs beyond this is its own work: validation, auth hooks, cache, headers, logs.
 *   node dist-test/bench/baseline.js recordings.json port
 */
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'

interface Recording { path: string, contentType: string, body: string }

async function main (): Promise<void> {
  const [file = '', port = '0'] = process.argv.slice(2)
  const recordings = JSON.parse(readFileSync(file, 'utf8')) as Recording[]
  const bodies = new Map(recordings.map((r) => [r.path, { type: r.contentType, body: Buffer.from(r.body, 'base64') }]))
  const app = Fastify()
  const send = async (request: { url: string }, reply: { type: (t: string) => { send: (b: Buffer) => unknown }, code: (c: number) => { send: () => unknown } }) => {
    const recorded = bodies.get(request.url)
    return recorded === undefined ? reply.code(404).send() : reply.type(recorded.type).send(recorded.body)
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
