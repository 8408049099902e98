import type { KeyValueCache } from './types'

/**
 * The in-process cache of an app whose database another process also writes (the embedded
 * default: `npm run seed` or `npm run import` beside the running service, or a second instance
 * on the same SQLite file). That process's writes invalidate only its own cache, so here,
 * before each generation read, `dataVersion` is asked whether anyone else has committed to the
 * database since the namespace's previous read; when so, a new generation is started first,
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
export function followExternalWrites (inner: KeyValueCache, dataVersion: () => number): KeyValueCache {
  /** Per namespace, the version its last read saw: entries cached since are no older than it. */
  const versions = new Map<string, number>()
  return {
    ...inner,
    async readGeneration (namespace, key, fresh, generationTtlSeconds) {
      const version = dataVersion()
      const seen = versions.get(namespace)
      if (seen !== version) {
        // Set before the call, and the in-process cache stores before it returns: a read that
        // comes meanwhile already finds the new generation, and starts none of its own.
        versions.set(namespace, version)
        // At the first read nothing is cached yet: entries are stored only after a read.
        if (seen !== undefined) await inner.startGeneration(namespace, fresh, generationTtlSeconds)
      }
      return await inner.readGeneration(namespace, key, fresh, generationTtlSeconds)
    }
  }
}
