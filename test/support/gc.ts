import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { setImmediate as nextTurn } from 'node:timers/promises'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/**
 * A full garbage collection, once the current job has ended (a WeakRef read in it keeps its
 * target until then): whether something still holds an object, asked of the engine itself.
 */
export async function collectGarbage (): Promise<void> {
  await nextTurn()
  gc()
}
