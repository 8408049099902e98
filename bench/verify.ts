/**
 * The sign-in baseline of `npm run bench`: one argon2id verify of the stored hash, timed in a
 * process on the service's own core (so both see the same core and its neighbours). Each
 * message `{ hash, password }` is answered with the verify's milliseconds.
 *   spawned by bench/books.ts with an IPC channel
 */
import { verify } from '@node-rs/argon2'

process.on('message', (message: { hash: string, password: string }) => {
  const t0 = performance.now()
  verify(message.hash, message.password).then((ok) => {
    process.send?.({ ms: performance.now() - t0, ok })
  }, (err: unknown) => {
    console.error(err)
    process.exit(1)
  })
})
process.send?.({ ready: true })
