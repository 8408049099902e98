/**
 * Rejects when `promise` has not settled within `ms`; the timer never outlives the race.
 *
 * The deadline measures the backing service's silence, not this process's: after the event
 * loop was held up past `ms` (a GC pause, a CPU-throttled container, a busy machine), Node runs
 * expired timers before it reads the sockets, so an answer already waiting in a socket would
 * lose to the timer. The rejection waits for setImmediate, which runs after that poll: an
 * answer that arrived in time wins.
 */
export async function withDeadline<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  let late: NodeJS.Immediate | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      late = setImmediate(() => reject(new Error(`${what} did not answer within ${ms} ms`)))
    }, ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
    clearImmediate(late)
  }
}
