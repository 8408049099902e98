import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { binaryAvailable, freePort, throwaway, unstoppedThreads } from '../../../scripts/lib/throwaway'
import { skipSuite } from '../../support/app'
import { throwawayMariadb } from '../../support/servers'

/** Where outgoing connections take their local ports, on this machine. */
const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])

/** A server of this test listening on `port`, as a server started next would bind it; undefined if it was taken. */
async function listenOn (port: number): Promise<Server | undefined> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined))
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

t.test('freePort: distinct ports outside the ephemeral range, each one a server can listen on', async (t) => {
  const ports: number[] = []
  for (let i = 0; i < 200; i++) ports.push(await freePort())
  t.equal(new Set(ports).size, ports.length, 'never the same port twice in one process')
  t.ok(ports.every((p) => p >= 1024 && p < ephemeralLow), `all below ${ephemeralLow}, where no outgoing connection takes one`)
  let listened = 0
  for (const port of ports.slice(0, 20)) {
    const server = await listenOn(port)
    if (server === undefined) continue
    listened++
    await new Promise((resolve) => server.close(resolve))
  }
  t.equal(listened, 20, 'the first 20 could each be listened on')
})

t.test('freePort: never a port a server is listening on', async (t) => {
  // 1,000 ports below the range held by servers of this test, not handed out by freePort: 300
  // draws would hit one about 13 times if it did not try each port first.
  const held: Server[] = []
  t.teardown(() => { for (const server of held) server.close() })
  const taken = new Set<number>()
  while (taken.size < 1000) {
    const port = 10_000 + Math.floor(Math.random() * (ephemeralLow - 10_000))
    const server = await listenOn(port)
    if (server === undefined) continue
    held.push(server)
    taken.add(port)
  }
  const drawn: number[] = []
  for (let i = 0; i < 300; i++) drawn.push(await freePort())
  t.same(drawn.filter((p) => taken.has(p)), [], 'none of 300 is a held port')
})

t.test('signal(SIGSTOP) returns once every thread of the server is stopped, not when the signal is sent', async (t) => {
  // A server that keeps a thread busy, as one answering requests does: right after kill() some
  // of its threads are most often still running (128 of 200 tries on this 2-core machine).
  const port = await freePort()
  const busy = `require('node:http').createServer((q, r) => r.end()).listen(${port}, '127.0.0.1');` +
    'setInterval(() => { const end = Date.now() + 5; while (Date.now() < end); }, 1)'
  const server = throwaway(port, `http://127.0.0.1:${port}`, process.execPath, ['-e', busy])
  await server.start()
  t.teardown(() => server.dispose())
  const pid = server.pid()
  if (pid === undefined) throw new Error('the server has no pid')
  const late: string[] = []
  for (let i = 0; i < 50; i++) {
    server.signal('SIGSTOP')
    late.push(...unstoppedThreads(pid))
    server.signal('SIGCONT')
    await new Promise((resolve) => setTimeout(resolve, 3))
  }
  t.same(late, [], 'no thread was still running when signal returned, in 50 freezes')
})

if (!binaryAvailable('mariadbd')) {
  skipSuite(t, 'a private MariaDB and the shared temporary directory', 'mariadbd not installed (npm run services installs it)')
} else {
  t.test('a private MariaDB leaves the temporary tables of other servers alone', async (t) => {
    // The shape of another live server's on-disk temporary table in the machine's /tmp.
    const others = path.join(tmpdir(), `#sql-temptable-${process.pid.toString(16)}-1-1.MAI`)
    writeFileSync(others, '')
    t.teardown(() => rmSync(others, { force: true }))
    const server = await throwawayMariadb()
    await server.dispose()
    t.ok(existsSync(others), `${others} is still there after a private MariaDB was installed and started`)
  })
}
