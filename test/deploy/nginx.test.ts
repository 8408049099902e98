import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../config/paths'
import { skipSuite } from '../support/app'
import { composeProxy, findNginx } from '../support/nginx'
import { serve } from '../support/processes'

// docker-compose.yml's proxy, deploy/nginx.conf, in front of the real server: the compose
// upstreams become the server's loopback port, everything else is the file as written.

const LIMIT = 64 * 1024

/** A sign-up body of exactly `bytes` bytes (its password too long: a 400 when it gets through). */
function bodyOf (bytes: number): string {
  const frame = '{"email":"nginx@example.com","password":""}'
  return frame.replace('""', `"${'a'.repeat(bytes - frame.length)}"`)
}

const nginx = findNginx()
if (nginx === undefined) {
  skipSuite(t, 'deploy/nginx.conf', 'no nginx binary (Debian: apt-get install nginx-light); the compose proxy config is not tested')
} else {
  t.test('deploy/nginx.conf answers an oversized body as the service does', async (t) => {
    const server = await serve(t)
    const proxy = await composeProxy(t, nginx, [server.port])
    t.not(proxy.site, readFileSync(path.join(projectRoot, 'deploy', 'nginx.conf'), 'utf8'), 'the upstreams and the listen line were found')
    const url = proxy.url

    const post = async (base: string, bytes: number): Promise<Response> =>
      fetch(`${base}/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(bytes) })

    const direct = await post(server.url, LIMIT + 1)
    t.equal(direct.status, 413, 'the service itself refuses a body over 64 KiB')
    const expected = await direct.text()
    for (const bytes of [LIMIT + 1, 100 * 1024, 4 * 1024 * 1024]) {
      const res = await post(url, bytes)
      t.equal(res.status, 413, `${bytes} bytes through nginx: 413`)
      t.equal(res.headers.get('content-type'), direct.headers.get('content-type'), 'the same content type')
      t.equal(await res.text(), expected, 'the same body, byte for byte, as the service answers')
    }

    const atLimit = await post(url, LIMIT)
    t.equal(atLimit.status, 400, 'a body of exactly 64 KiB reaches the service (its password is too long)')
    t.ok(atLimit.headers.get('x-request-id'), 'the service answered it')
  })
}
