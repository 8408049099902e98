import type { Book, BookInput, BookRecord } from '../schemas/book'
import type { Review, ReviewInput, ReviewRecord } from '../schemas/review'
import type { SessionRecord } from '../schemas/session'
import type { ApiKey } from '../schemas/api-key'
import type { User, UserRecord } from '../schemas/user'
import type { Permission } from '../domain/permission'
import type { AuditEntry, AuditEvent, AuditEventType } from '../schemas/audit'

/**
 * The store contract. Every backend (SQLite, MySQL, MongoDB) implements these unchanged and
 * runs the same contract suite in test/stores/. Stores speak domain types, never HTTP; every
 * member is an async method, so src/stores/guard.ts can bound each one.
 */
export interface UserStore {
  /** Inserts; a duplicate email (already normalised) rejects with EMAIL_TAKEN, enforced by a unique index. */
  create (input: { email: string, password_hash: string, permission: Permission, email_verified?: boolean }): Promise<User>
  findByEmail (email: string): Promise<UserRecord | undefined>
  get (id: number): Promise<User | undefined>
  /**
   * Sets the level; undefined when there is no such user. Lowering the last Admin rejects with
   * LAST_ADMIN, decided atomically with the write, so two Admins lowering each other at once
   * cannot leave none.
   */
  setPermission (id: number, permission: Permission): Promise<User | undefined>
  /** By id; `q` is a plain substring of the (lower-case) email. */
  list (page: Page): Promise<User[]>
  setPasswordHash (id: number, passwordHash: string): Promise<void>
  /**
   * Deletes the user; false when there is no such user. What the database ties to the user
   * goes with it (sessions and their refresh tokens, account tokens, outbox messages); reviews
   * are the review store's. The last Admin rejects with LAST_ADMIN, decided atomically with
   * the deletion by the same guard as setPermission.
   */
  delete (id: number): Promise<boolean>
  /** The current address counts as verified. */
  markVerified (id: number): Promise<void>
  /** The address becomes `email`, verified; one another account holds rejects with EMAIL_TAKEN (the unique index). */
  setVerifiedEmail (id: number, email: string): Promise<void>
  /**
   * Locks the user's row until the caller's transaction ends (a no-op write) and reads it:
   * inside stores.atomic, a count-then-write (the per-user mail limits) is serialized with
   * every other one for that user, on every instance. Undefined when there is no such user.
   */
  lock (id: number): Promise<User | undefined>
}

export interface Page {
  /** Rows skipped; 0 whenever `after` is set (the route refuses both together). */
  offset: number
  limit: number
  /** Keyset paging, books only: just ids greater than this, in id order. Reviews ignore it. */
  after?: number | undefined
  /**
   * A plain substring; never a pattern. Folding is the contract's: both sides lower-cased as
   * JavaScript's toLowerCase() does, nothing else (no accent folding).
   */
  q?: string | undefined
}

/** What a permission check needs of a session: whose it is, that user's stored level, whether it is live. */
export interface SessionAccess {
  user_id: number
  permission: Permission
  /** Whether the user's address is verified (REQUIRE_VERIFIED_EMAIL). */
  email_verified: boolean
  /** Ended sessions stay ended; a live one until this instant (ISO 8601). */
  ended: boolean
  expires_at: string
}

type RotateOutcome =
  | { outcome: 'rotated', session: SessionRecord }
  /** The hash was spent already: the session it belonged to has just been ended. */
  | { outcome: 'reused', sessionId: string }
  /** Unknown, or its session has ended or run out. */
  | { outcome: 'invalid' }

/** Sessions and the SHA-256 hashes of their refresh tokens; times are ISO 8601 UTC. */
export interface SessionStore {
  create (input: { id: string, user_id: number, token_hash: string, now: string, expires_at: string }): Promise<SessionRecord>
  /**
   * Spends `tokenHash` and records `newHash` for the same live session, atomically: of two
   * calls racing with one hash exactly one rotates; the other sees it spent, ends the session
   * and answers `reused`.
   */
  rotate (tokenHash: string, newHash: string, now: string): Promise<RotateOutcome>
  /** One indexed read: the session by id joined with its user's current level. */
  access (id: string): Promise<SessionAccess | undefined>
  /** The user's live sessions at `now`, newest first. */
  listLive (userId: number, now: string): Promise<SessionRecord[]>
  /** Ends one live session of `userId`; false when it is not theirs, unknown or ended already. */
  end (userId: number, id: string, now: string): Promise<boolean>
  /** Ends every live session of the user but `exceptId`; the ids ended. */
  endAll (userId: number, now: string, exceptId?: string): Promise<string[]>
  /** Ids of the user's sessions that have not ended (for dropping cached checks). */
  liveIds (userId: number, now: string): Promise<string[]>
}

export interface BookStore {
  /**
   * Ordered by id; `q` matches title or author as above. Lists carry no `version`: a list
   * answer is plain books.
   */
  list (page: Page): Promise<Book[]>
  get (id: number): Promise<BookRecord | undefined>
  create (input: BookInput): Promise<BookRecord>
  /**
   * Full replacement of the writable fields; undefined when there is no such book, or when
   * `expectedVersion` is given and the stored version is another (then nothing changes). The
   * version check and the write are one atomic step.
   */
  update (id: number, input: BookInput, expectedVersion?: number): Promise<BookRecord | undefined>
  /**
   * Removes the book only: its reviews are the review store's (src/services/books.ts). With
   * `expectedVersion`, only while the stored version is that one (atomically); else false.
   */
  delete (id: number, expectedVersion?: number): Promise<boolean>
  /**
   * Bulk load, all or nothing: every book of every batch is inserted (search index in step)
   * in one transaction, or none is. Resolves to how many were inserted. Not bounded by the
   * store deadline (plugins/app/stores.ts exempts it): it takes as long as the file does.
   * `expected`, the number of books the batches hold when the caller knows it, lets a large
   * load build its search index once at the end rather than book by book.
   */
  importMany (batches: AsyncIterable<BookInput[]> | Iterable<BookInput[]>, expected?: number): Promise<number>
}

export interface ReviewStore {
  /** Newest first, offset paging; `q` matches title or content, folded as for books. */
  listByBook (bookId: number, page: Page): Promise<Review[]>
  /** Undefined for an unknown or malformed id. */
  get (id: string): Promise<ReviewRecord | undefined>
  create (input: ReviewInput): Promise<ReviewRecord>
  /** As BookStore.update: with `expectedVersion`, only while the stored version is that one, atomically. */
  update (id: string, input: { title: string, content: string }, expectedVersion?: number): Promise<ReviewRecord | undefined>
  delete (id: string, expectedVersion?: number): Promise<boolean>
  /** Removes every review of a book; how many went (0 where a foreign key already took them). */
  deleteByBook (bookId: number): Promise<number>
  /** Every review the user wrote, newest first, as clients see them (an account export). */
  listByUser (userId: number): Promise<Review[]>
  /** Removes every review the user wrote; how many went. Harmless to repeat. */
  deleteByUser (userId: number): Promise<number>
}

/**
 * The audit log: append-only, each event chained to the one before by a hash
 * (src/stores/sql/audit.ts). There is no way to change or remove an event.
 */
export interface AuditStore {
  /** Appends at `at` (ISO 8601), next in the chain; inside the caller's transaction when given one. */
  append (entry: AuditEntry, at: string): Promise<AuditEvent>
  /** Newest first; only ids below `before`; filtered by user and type when given. */
  list (filter: { user_id?: number | undefined, type?: AuditEventType | undefined, before?: number | undefined, limit: number }): Promise<AuditEvent[]>
  /** Walks the whole chain: how many events, and the first whose stored hash is not what its content and predecessor give. */
  verify (): Promise<{ events: number, valid: true } | { events: number, valid: false, first_invalid_id: number }>
}

/** A message as the outbox keeps it until it is sent. */
export interface OutgoingMessage {
  /** Whom it is for, when it is an account's: deleting the account drops the message. */
  user_id: number | null
  to: string
  subject: string
  text: string
  html: string
}

export interface ClaimedMessage extends OutgoingMessage {
  id: number
  attempts: number
  created_at: string
}

/**
 * Mail waiting to be sent (src/mail/). A message is enqueued in the transaction of the change
 * that causes it; a worker claims due messages for a lease, so of several instances one sends
 * each, and a sender that dies leaves its claim to run out.
 */
export interface OutboxStore {
  enqueue (message: OutgoingMessage, now: string): Promise<number>
  /** Up to `limit` messages due at `now` and not claimed by a live lease, now claimed until `leaseUntil`. */
  claim (now: string, leaseUntil: string, limit: number): Promise<ClaimedMessage[]>
  /** Sent (or given up): the message goes, and with it the only copy of its token. */
  remove (id: number): Promise<void>
  /** Not sent this time: tried again at `nextAttemptAt`; `error` is a short code, never a message with an address in it. */
  retryLater (id: number, nextAttemptAt: string, error: string): Promise<void>
}

/** An email change's token proves the new address: it is verified by the same route as a sign-up's. */
export type AccountTokenPurpose = 'verify_email' | 'change_email' | 'reset_password'

/** Verification and reset tokens: only their SHA-256 is stored (src/services/accounts.ts hashes). */
export interface AccountTokenStore {
  /** Stores a new token; every earlier unused token of the same user and purpose is spent (superseded). */
  issue (input: { token_hash: string, user_id: number, purpose: AccountTokenPurpose, email: string | null, now: string, expires_at: string }): Promise<void>
  /** Spends a live token of one of `purposes`, atomically (of two racing uses one wins); undefined when unknown, used, superseded or expired. */
  consume (tokenHash: string, purposes: readonly AccountTokenPurpose[], now: string): Promise<{ user_id: number, purpose: AccountTokenPurpose, email: string | null } | undefined>
  /** Tokens of the user and purpose issued since `since` (used or not): the mail limits count them. */
  countSince (userId: number, purpose: AccountTokenPurpose, since: string): Promise<number>
  /** Spends every live token of the user and purpose. */
  spendAll (userId: number, purpose: AccountTokenPurpose, now: string): Promise<void>
}

/** A user's TOTP authenticator: pending (enabled false) until a first code confirms it. */
export interface TotpRecord {
  user_id: number
  /** Base32, as the authenticator app was given it: a code check needs the secret itself. */
  secret: string
  enabled: boolean
  /** The newest time step accepted (0 for none): a code of this step or an earlier one is refused. */
  last_step: number
}

/**
 * TOTP secrets and recovery codes (only SHA-256 digests of these; src/services/totp.ts
 * hashes). Every spending of a code is one conditional UPDATE, so of two instances taking
 * the same code at once only one accepts it.
 */
export interface TotpStore {
  get (userId: number): Promise<TotpRecord | undefined>
  /** Stores `secret` as the user's pending one, replacing a pending secret; false (nothing changes) when TOTP is on. */
  setPending (userId: number, secret: string, now: string): Promise<boolean>
  /**
   * Turns TOTP on if `secret` is still the pending one and `step` is after its last step,
   * and gives the user these recovery code digests in place of any earlier ones. False
   * (nothing changes) when it is not pending, was replaced, or the step is spent.
   */
  enable (userId: number, secret: string, step: number, recoveryCodeHashes: readonly string[], now: string): Promise<boolean>
  /** Forgets the user's secret and recovery codes; false when there was no secret. */
  disable (userId: number): Promise<boolean>
  /** Records `step` as accepted if TOTP is on and the step is after the last one accepted; false otherwise (a replay). */
  acceptStep (userId: number, step: number): Promise<boolean>
  /** Spends one unused recovery code of the user's, if TOTP is on; false when unknown or used. */
  spendRecoveryCode (userId: number, codeHash: string, now: string): Promise<boolean>
  /** The user's unused recovery codes. */
  recoveryCodesLeft (userId: number): Promise<number>
}

/** A database connection the readiness probe pings and the app closes. */
/** What a request with an API key needs, by one indexed read: the key and its user as stored now. */
export interface ApiKeyAccess {
  id: string
  user_id: number
  /** The key's own permission; the request acts with the lower of this and `user_permission`. */
  permission: Permission
  user_permission: Permission
  /** The user's address: a key request's `user_name`, as a token's is (the default author of a review). */
  email: string
  email_verified: boolean
  revoked: boolean
  expires_at: string
  last_used_at: string | null
}

export interface ApiKeyStore {
  create (input: { id: string, user_id: number, key_hash: string, name: string, permission: Permission, now: string, expires_at: string }): Promise<ApiKey>
  /** Keys neither revoked nor expired at `now`. Call with the user locked to decide on a new one. */
  countLive (userId: number, now: string): Promise<number>
  /** The user's live keys at `now`, newest first. */
  listLive (userId: number, now: string): Promise<ApiKey[]>
  /** Revokes one unrevoked key of `userId`; false when it is not theirs, unknown or revoked already. */
  revoke (userId: number, id: string, now: string): Promise<boolean>
  /** The key with this SHA-256 digest (hex) joined with its user, or undefined. */
  lookup (keyHash: string): Promise<ApiKeyAccess | undefined>
  /** Sets last_used_at to `now` unless it is later than `since` already; whether a row changed. */
  touch (id: string, now: string, since: string): Promise<boolean>
}

export interface Backend {
  readonly name: string
  ping (): Promise<void>
  close (): Promise<void>
}

/** A registered passkey as stored: the public half of an authenticator's credential. */
export interface PasskeyRecord {
  id: string
  user_id: number
  /** The authenticator's credential id, base64url. */
  credential_id: string
  /** Its COSE public key. */
  public_key: Uint8Array<ArrayBuffer>
  /** The last signature counter seen (0: an authenticator that keeps none). */
  counter: number
  transports: string[]
  name: string
  created_at: string
  last_used_at: string | null
}

/** What a WebAuthn challenge was issued for: it is spent only by the same ceremony. */
export type WebAuthnPurpose = 'register' | 'sign_in'

/** Passkeys and the challenges of their ceremonies (src/services/passkeys.ts). */
export interface PasskeyStore {
  /** Undefined when the credential id is registered already (to anyone). */
  create (input: Omit<PasskeyRecord, 'last_used_at' | 'created_at'> & { now: string }): Promise<PasskeyRecord | undefined>
  /** The user's passkeys, oldest first. */
  list (userId: number): Promise<PasskeyRecord[]>
  findByCredentialId (credentialId: string): Promise<PasskeyRecord | undefined>
  /** Whether the user had this passkey (another user's id is no different from an unknown one). */
  remove (userId: number, id: string): Promise<boolean>
  /**
   * A sign-in with it: the new counter and last_used_at, only if the counter moves forward
   * (or both are 0, an authenticator without a counter). False when another sign-in with the
   * same or a later counter came first: a cloned or replayed assertion.
   */
  recordUse (id: string, counter: number, now: string): Promise<boolean>
  /** Stores a challenge's digest; user_id null for a sign-in, whose user is not known yet. */
  saveChallenge (input: { challenge_hash: string, user_id: number | null, purpose: WebAuthnPurpose, expires_at: string }): Promise<void>
  /**
   * Spends a live challenge of this purpose (and user, when one is given) by one conditional
   * UPDATE: of two uses, on any instance, one wins. False when unknown, used, expired or another's.
   */
  spendChallenge (challengeHash: string, purpose: WebAuthnPurpose, userId: number | null, now: string): Promise<boolean>
  /** Deletes challenges that expired before `now`; how many. */
  sweepChallenges (now: string): Promise<number>
}
