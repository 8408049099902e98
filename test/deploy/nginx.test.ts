import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../config/paths'
import { waitForHttp } from '../../scripts/lib/server'
import { skipSuite } from '../support/app'
import { serve } from '../support/processes'
import { freePort } from '../support/servers'

// docker-compose.yml's proxy, deploy/nginx.conf, in front of the real server: the compose
// upstreams become the server's loopback port, everything else is the file as written.

const LIMIT = 64 * 1024

/** nginx on PATH or where Debian puts it, if it runs. */
function findNginx (): string | undefined {
  return ['nginx', '/usr/sbin/nginx'].find((cmd) => {
    const probe = spawnSync(cmd, ['-v'], { stdio: 'ignore' })
    return probe.error === undefined && probe.status === 0
  })
}

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
    const port = await freePort()
    const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-nginx-'))
    const site = readFileSync(path.join(projectRoot, 'deploy', 'nginx.conf'), 'utf8')
      .replace('server app:3000;', `server 127.0.0.1:${server.port};`)
      .replace(/^\s*server app2:3000;\n/m, '')
      .replace('listen 3000;', `listen 127.0.0.1:${port};`)
    t.not(site, readFileSync(path.join(projectRoot, 'deploy', 'nginx.conf'), 'utf8'), 'the upstreams and the listen line were found')
    writeFileSync(path.join(dir, 'site.conf'), site)
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
      .map((name) => `${name}_temp_path ${path.join(dir, name)};`).join(' ')
    // One process, no workers: a kill leaves nothing behind (a killed master orphans its workers).
    writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
master_process off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')};
events {}
http {
  access_log off;
  ${temp}
  include ${path.join(dir, 'site.conf')};
}
`)
    const proxy = spawn(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' })
    t.teardown(async () => {
      proxy.kill('SIGKILL')
      if (proxy.exitCode === null && proxy.signalCode === null) await once(proxy, 'exit')
      rmSync(dir, { recursive: true, force: true })
    })
    const url = `http://127.0.0.1:${port}`
    await waitForHttp(`${url}/health/live`, proxy, 10_000)

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
