import type { KeyValueCache } from './types'

/**
 * The in-process cache of an app whose database another process also writes (the embedded
 * default: `npm run seed` or `npm run import` beside the running service, or a second instance
 * on the same SQLite file). That process's writes invalidate only its own cache, so here,
 * before a generation read, `dataVersion` is asked whether anyone else has committed to the
 * database since the namespace's previous check (at most every CHECK_EVERY_MS); when so, a new generation is started first,
 * so every entry cached before that commit is unreachable at once.
 *
 * `dataVersion` must change for every commit of another connection and need not change for
 * this app's own, which invalidate through the cache as always (SQLite's `PRAGMA data_version`
 * is exactly that: src/stores/sqlite/dialect.ts). It is asked before the read, so a load that
 * then reads the database is no older than the version seen, and a commit after the question
 * changes the version the next read sees.
 *
 * Only generation-scoped entries (book pages and books) go: counters, such as the sign-in
 * throttle's, are untouched by another process's writes. Everything else passes through
 * unchanged.
 */
/**
 * How often the version is asked at most, per namespace: asking costs a statement step (some
 * microseconds, as much as the rest of a cached read), and a commit elsewhere is then seen by
 * every read that starts a millisecond or more after it.
 */
const CHECK_EVERY_MS = 1

export function followExternalWrites (inner: KeyValueCache, dataVersion: () => number): KeyValueCache {
  /** Per namespace, the version its last check saw (entries cached since are no older) and when. */
  const checked = new Map<string, { version: number, at: number }>()
  const due = (at: number, now: number): boolean => now - at >= CHECK_EVERY_MS
  const followed: KeyValueCache = {
    ...inner,
    readGeneration (namespace, key, fresh, generationTtlSeconds) {
      const now = performance.now()
      const last = checked.get(namespace)
      if (last === undefined) {
        // At the first read nothing is cached yet: entries are stored only after a read.
        checked.set(namespace, { version: dataVersion(), at: now })
      } else if (due(last.at, now)) {
        last.at = now
        const version = dataVersion()
        if (version !== last.version) {
          // Recorded before the call, and the in-process cache stores before it returns: a
          // read that comes meanwhile already finds the new generation, and starts none of its own.
          last.version = version
          return inner.startGeneration(namespace, fresh, generationTtlSeconds)
            .then(() => inner.readGeneration(namespace, key, fresh, generationTtlSeconds))
        }
      }
      return inner.readGeneration(namespace, key, fresh, generationTtlSeconds)
    }
  }
  const peek = inner.peekGeneration
  if (peek !== undefined) {
    followed.peekGeneration = (namespace, key) => {
      const look = peek(namespace, key)
      // Made at the namespace's first read, and then only ever updated in place.
      let last = checked.get(namespace)
      return () => {
        last ??= checked.get(namespace)
        if (last === undefined) return undefined
        const now = performance.now()
        if (due(last.at, now)) {
          // A commit elsewhere is left unrecorded: the readGeneration that follows sees it too,
          // and starts the new generation (this answers at once, and has no token for one).
          if (dataVersion() !== last.version) return undefined
          last.at = now
        }
        return look()
      }
    }
  }
  return followed
}
