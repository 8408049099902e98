import { withDeadline } from '../deadline'
import type { Readiness } from '../schemas/common'

/** Anything readiness checks: each configured database and the cache. */
export interface Pingable {
  readonly name: string
  ping (): Promise<void>
}

/**
 * Pings every configured backing service at once, each within `timeoutMs`, and says which
 * answer. The list is read at each call, so it is whatever the app holds now.
 */
export function createReadiness (services: readonly Pingable[], timeoutMs: number) {
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
