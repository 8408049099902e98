import { AppError, ServiceUnavailableError } from '../domain/errors'
import { withDeadline } from '../deadline'

type AsyncMethod = (...args: never[]) => Promise<unknown>

/**
 * Wraps every method of a store so that a dead or frozen backing service fails the request
 * within `timeoutMs` as a 503 (SERVICE_UNAVAILABLE, Retry-After), never hangs it or leaks a
 * driver message. Domain errors (EMAIL_TAKEN...) pass through untouched. The drivers' own
 * timeouts are set too; this is the bound the client actually sees.
 *
 * A store is nothing but async methods (the constraint says so), so the copy below, one
 * wrapper per own member, is the whole store.
 */
export function guardStore<T extends { [K in keyof T]: AsyncMethod }> (store: T, service: string, timeoutMs: number,
  { unbounded = [] }: { unbounded?: ReadonlyArray<keyof T> } = {}): T {
  const guarded: Partial<Record<keyof T, AsyncMethod>> = {}
  for (const key of Object.keys(store) as Array<keyof T>) {
    const method: AsyncMethod = store[key]
    // A bulk path (importMany) runs for minutes by design: errors are still mapped, time is not cut.
    const bound = !unbounded.includes(key)
    guarded[key] = async (...args: unknown[]): Promise<unknown> => {
      try {
        const result: Promise<unknown> = Reflect.apply(method, store, args)
        return bound ? await withDeadline(result, timeoutMs, service) : await result
      } catch (err) {
        if (err instanceof AppError) throw err
        throw new ServiceUnavailableError(service, { cause: err })
      }
    }
  }
  return guarded as T
}
