import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from 'tap'
import { projectRoot } from '../../config/paths'
import { waitForHttp } from '../../scripts/lib/server'
import { freePort } from './servers'

/** nginx on PATH or where Debian puts it, if it runs. */
export function findNginx (): string | undefined {
  return ['nginx', '/usr/sbin/nginx'].find((cmd) => {
    const probe = spawnSync(cmd, ['-v'], { stdio: 'ignore' })
    return probe.error === undefined && probe.status === 0
  })
}

/** One line of the proxy's access log (see composeProxy). */
export interface Passed {
  /** When nginx finished the request, in ms since the epoch. */
  at: number
  method: string
  /** What the client got. */
  status: number
  /** The instances (loopback ports) nginx passed the request to, in order: more than one is a retry. */
  upstreams: number[]
  /** What each of them answered, in the same order (502: no answer, a refused or lost connection). */
  upstreamStatuses: number[]
}

export interface Proxy {
  url: string
  /** The site as it runs: deploy/nginx.conf with its upstreams and listen line replaced. */
  site: string
  /** What the proxy has passed so far, from its access log. */
  passed (): Passed[]
  errorLog (): string
}

/**
 * docker-compose.yml's proxy, deploy/nginx.conf, on a free loopback port in front of the
 * servers listening on `ports`: its upstream `server` lines become one line per port (with
 * the file's parameters), its listen line the free port; everything else is the file as
 * written. Killed when the test ends.
 */
export async function composeProxy (t: Test, nginx: string, ports: readonly number[]): Promise<Proxy> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(tmpdir(), 'bookstore-nginx-'))
  const written = readFileSync(path.join(projectRoot, 'deploy', 'nginx.conf'), 'utf8')
  const upstreams = [...written.matchAll(/^(\s*)server app\d*:3000([^;]*);\n/gm)]
  const first = upstreams[0]
  if (first === undefined || !written.includes('listen 3000;')) throw new Error('deploy/nginx.conf: no `server app:3000` upstream or no `listen 3000;` line to point at the test servers')
  const [, indent = '', params = ''] = first
  const site = written
    .replace(first[0], ports.map((p) => `${indent}server 127.0.0.1:${p}${params};\n`).join(''))
    .replace(/^\s*server app\d+:3000[^;]*;\n/gm, '')
    .replace('listen 3000;', `listen 127.0.0.1:${port};`)
  writeFileSync(path.join(dir, 'site.conf'), site)
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((name) => `${name}_temp_path ${path.join(dir, name)};`).join(' ')
  const accessLog = path.join(dir, 'access.log')
  const errorLog = path.join(dir, 'error.log')
  // One process, no workers: a kill leaves nothing behind (a killed master orphans its workers).
  // The access log says which instances each request went to, so a test sees the retries.
  writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
master_process off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${errorLog};
events {}
http {
  log_format passed '$msec $request_method $status "$upstream_addr" "$upstream_status"';
  access_log ${accessLog} passed;
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
  const read = (file: string): string => { try { return readFileSync(file, 'utf8') } catch { return '' } }
  return {
    url,
    site,
    errorLog: () => read(errorLog),
    passed: () => read(accessLog).split('\n').filter((line) => line !== '').map((line) => {
      const [msec = '0', method = '', status = '0'] = line.split(' ')
      // "127.0.0.1:3001, 127.0.0.1:3002" "502, 200" (a retry), or "-" "-" when nginx answered itself.
      const [, addresses = '', statuses = ''] = /"([^"]*)" "([^"]*)"$/.exec(line) ?? []
      const upstreams = [...addresses.matchAll(/:(\d+)/g)].map((m) => Number(m[1]))
      const upstreamStatuses = [...statuses.matchAll(/\d+/g)].map((m) => Number(m[0]))
      return { at: Number(msec) * 1000, method, status: Number(status), upstreams, upstreamStatuses }
    })
  }
}
