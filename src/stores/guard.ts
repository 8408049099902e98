import { AppError, ServiceUnavailableError } from '../domain/errors'
import { withDeadline } from '../deadline'

/**
 * Wraps every method of a store so that a dead or frozen backing service fails the request
 * within `timeoutMs` as a 503 (SERVICE_UNAVAILABLE, Retry-After), never hangs it or leaks a
 * driver message. Domain errors (EMAIL_TAKEN...) pass through untouched. The drivers' own
 * timeouts are set too; this is the bound the client actually sees.
 */
export function guardStore<T extends object> (store: T, service: string, timeoutMs: number): T {
  const guarded = {} as Record<string, unknown>
  for (const [key, value] of Object.entries(store)) {
    if (typeof value !== 'function') continue
    guarded[key] = async (...args: unknown[]): Promise<unknown> => {
      try {
        return await withDeadline((value as (...a: unknown[]) => Promise<unknown>).apply(store, args), timeoutMs, service)
      } catch (err) {
        if (err instanceof AppError) throw err
        throw new ServiceUnavailableError(service, { cause: err })
      }
    }
  }
  return guarded as T
}
