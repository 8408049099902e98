import type { AccountTokenStore, ApiKeyStore, AuditStore, BookStore, OutboxStore, PasskeyStore, ReviewStore, SessionStore, TotpStore, UserStore } from '../types'
import { createAccountTokenStore } from './account-tokens'
import { createApiKeyStore } from './api-keys'
import { createAuditStore } from './audit'
import { createBookStore } from './books'
import type { SqlDialect, SqlExecutor } from './dialect'
import { createOutboxStore } from './outbox'
import { createPasskeyStore } from './passkeys'
import { createReviewStore } from './reviews'
import { createSessionStore } from './sessions'
import { createTotpStore } from './totp'
import { createUserStore } from './users'

/** Every store the SQL database holds, bound to one connection or to one transaction. */
export interface SqlStoreSet {
  users: UserStore
  books: BookStore
  /** Used while MONGODB_URL is unset. */
  reviews: ReviewStore
  sessions: SessionStore
  tokens: AccountTokenStore
  outbox: OutboxStore
  audit: AuditStore
  apiKeys: ApiKeyStore
  /** Passkeys and the challenges of their ceremonies. */
  passkeys: PasskeyStore
  /** TOTP secrets and recovery codes. */
  totp: TotpStore
}

export interface SqlStores extends SqlStoreSet {
  /**
   * Runs `fn` with every store bound to one transaction: what it writes commits together or
   * not at all (a change, the mail it causes, its audit event). A store method that opens a
   * transaction of its own joins this one. Only SQL: a MongoDB write inside is not part of it.
   */
  atomic: <T>(fn: (stores: SqlStoreSet) => Promise<T>) => Promise<T>
}

/** The dialect seen from inside one of its transactions: statements run on it, and a nested transaction joins it. */
function within (db: SqlDialect, tx: SqlExecutor): SqlDialect {
  return {
    ...db,
    all: (sql, params) => tx.all(sql, params),
    get: (sql, params) => tx.get(sql, params),
    run: (sql, params) => tx.run(sql, params),
    transaction: (fn) => fn(tx)
  }
}

function storeSet (db: SqlDialect): SqlStoreSet {
  return {
    users: createUserStore(db),
    books: createBookStore(db),
    reviews: createReviewStore(db),
    sessions: createSessionStore(db),
    tokens: createAccountTokenStore(db),
    outbox: createOutboxStore(db),
    audit: createAuditStore(db),
    apiKeys: createApiKeyStore(db),
    passkeys: createPasskeyStore(db),
    totp: createTotpStore(db)
  }
}

/** Every SQL store, written once, over either dialect. */
export function createSqlStores (db: SqlDialect): SqlStores {
  return {
    ...storeSet(db),
    atomic: (fn) => db.transaction((tx) => fn(storeSet(within(db, tx))))
  }
}
