/**
 * Runs a command beside the built service: starts it with startServer (scripts/lib/server.ts;
 * its environment is this process's, so the caller sets DATABASE_URL, ADMIN_EMAIL, ...), gives
 * the command the service's address in SERVER_URL, stops the service when the command ends
 * and exits with the command's status. When the command fails, or the service does not close
 * cleanly on SIGTERM, the service's last log lines are printed.
 *   node dist/scripts/with-server.js -- COMMAND [ARG...]
 */
import { spawn } from 'node:child_process'
import { startServer } from './lib/server'

async function main (): Promise<number> {
  const dash = process.argv.indexOf('--')
  const [command, ...args] = dash === -1 ? [] : process.argv.slice(dash + 1)
  if (command === undefined) {
    console.error('usage: node dist/scripts/with-server.js -- COMMAND [ARG...]')
    return 2
  }
  const server = await startServer({ output: 'capture' })
  const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, SERVER_URL: server.url } })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal))
  const status = await new Promise<number>((resolve) => {
    child.once('error', (err) => { console.error(`with-server: ${command}: ${err.message}`); resolve(127) })
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)))
  })
  const exit = await server.stop()
  const closed = exit.code === 0
  if (status !== 0 || !closed) {
    const tail = server.output().trimEnd().split('\n').slice(-30).join('\n')
    console.error(`with-server: the service ${closed ? 'closed cleanly' : `ended with ${exit.code ?? exit.signal}`}; its last lines:\n${tail}`)
  }
  return status !== 0 ? status : closed ? 0 : 1
}

main().then((status) => process.exit(status), (err: unknown) => {
  console.error(`with-server: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
