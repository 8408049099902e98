import { withDeadline } from '../deadline'
import type { Readiness } from '../schemas/common'
import type { Backend } from '../stores/types'

/**
 * Pings every configured backing service (each database and the cache) at once, each within `timeoutMs`, and says which
 * answer. The list is read at each call, so it is whatever the app holds now.
 */
export function createReadiness (services: ReadonlyArray<Pick<Backend, 'name' | 'ping'>>, timeoutMs: number) {
  return async function readiness (): Promise<Readiness['services']> {
    const states = await Promise.all(services.map(async (service) => {
      try {
        await withDeadline(service.ping(), timeoutMs, service.name)
        return [service.name, 'up'] as const
      } catch {
        return [service.name, 'down'] as const
      }
    }))
    return Object.fromEntries(states)
  }
}
