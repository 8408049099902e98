import { createHash, randomBytes } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON
} from '@simplewebauthn/server'
import type { RequestContext } from '../domain/context'
import { invalidCredentials, passkeyInvalid, passkeyNotFound } from '../domain/errors'
import type { Passkey } from '../schemas/passkey'
import type { SqlStoreSet } from '../stores/sql'
import type { PasskeyRecord, PasskeyStore, WebAuthnPurpose } from '../stores/types'
import { auditEntry } from './audit'


type WebAuthn = typeof import('@simplewebauthn/server')
let webAuthn: WebAuthn | undefined
/**
 * @simplewebauthn/server, loaded at the first ceremony: with its certificate parsers it is
 * ~10 MB of resident memory that an instance whose users never register a passkey never needs.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadWebAuthn = (): WebAuthn => (webAuthn ??= require('@simplewebauthn/server') as WebAuthn)

/** ES256 and RS256, as the contract offers: what platform authenticators and security keys sign with. */
const ALGORITHMS = [-7, -257]
/** A challenge is good for this long after its options were answered. */
const CHALLENGE_MS = 5 * 60_000
const RP_NAME = 'Bookstore'

interface Deps<S> {
  passkeys: PasskeyStore
  /** One transaction over passkeys and the audit log: a passkey's addition or removal commits with its event. */
  atomic: <T>(fn: (stores: Pick<SqlStoreSet, 'passkeys' | 'audit'>) => Promise<T>) => Promise<T>
  rpId: string
  origins: readonly string[]
  /** Starts a session for a user whose passkey verified (src/services/auth.ts), with user.signed_in method "passkey". */
  signIn: (userId: number, ctx: RequestContext) => Promise<S>
  log: FastifyBaseLogger
}

/**
 * Why a ceremony failed, for the log: @simplewebauthn/server's message with any quoted long
 * base64url value (a challenge, which may still be live for its owner) left out.
 */
const reasonOf = (err: unknown): string =>
  (err instanceof Error ? err.message : String(err)).replace(/"[A-Za-z0-9_-]{16,}"/g, '"…"').slice(0, 300)

/** Only this digest of a challenge is stored: a read of the table gives no usable challenge. */
const challengeHash = (challenge: string): string => createHash('sha256').update(challenge, 'utf8').digest('hex')

const shown = (p: PasskeyRecord): Passkey => ({ id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at })

/**
 * Passkeys (WebAuthn): registration by a signed-in user, discoverable sign-in by anyone. Every
 * ceremony's challenge is stored as a digest with its purpose (and user, for registration)
 * and spent by verification itself through one conditional UPDATE, so it works once, on one
 * instance, within 5 minutes.
 */
export function createPasskeyService<S> ({ passkeys, atomic, rpId, origins, signIn, log }: Deps<S>) {
  const now = (): string => new Date().toISOString()

  async function issueChallenge (purpose: WebAuthnPurpose, userId: number | null, challenge: string): Promise<void> {
    const at = now()
    // Expired challenges go as new ones come: the table holds about 5 minutes of ceremonies.
    const swept = await passkeys.sweepChallenges(at)
    if (swept > 0) log.debug({ swept }, 'expired WebAuthn challenges deleted')
    await passkeys.saveChallenge({ challenge_hash: challengeHash(challenge), user_id: userId, purpose, expires_at: new Date(Date.parse(at) + CHALLENGE_MS).toISOString() })
  }

  /** What @simplewebauthn/server calls with the challenge the browser signed: spends it, or says no. */
  const spend = (purpose: WebAuthnPurpose, userId: number | null) =>
    async (challenge: string): Promise<boolean> => passkeys.spendChallenge(challengeHash(challenge), purpose, userId, now())

  return {
    /** POST /users/me/passkeys/options: creation options that exclude the user's passkeys. */
    async registrationOptions (user: { id: number, email: string }): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const existing = await passkeys.list(user.id)
      const options = await loadWebAuthn().generateRegistrationOptions({
        rpName: RP_NAME,
        rpID: rpId,
        userName: user.email,
        userDisplayName: user.email,
        // A stable handle (not the address): the authenticator keeps one credential per account and RP.
        userID: new TextEncoder().encode(`user-${user.id}`),
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: p.transports as AuthenticatorTransport[] })),
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
        supportedAlgorithmIDs: ALGORITHMS
      })
      await issueChallenge('register', user.id, options.challenge)
      return options
    },

    /** POST /users/me/passkeys: a response that does not verify, or a credential registered already, is PASSKEY_INVALID. */
    async register (userId: number, name: string, credential: RegistrationResponseJSON, ctx: RequestContext): Promise<Passkey> {
      let credentialInfo
      try {
        const result = await loadWebAuthn().verifyRegistrationResponse({
          response: credential,
          expectedChallenge: spend('register', userId),
          expectedOrigin: [...origins],
          expectedRPID: rpId,
          requireUserVerification: true,
          supportedAlgorithmIDs: ALGORITHMS
        })
        if (!result.verified) throw passkeyInvalid()
        credentialInfo = result.registrationInfo.credential
      } catch (err) {
        log.info({ userId, reason: reasonOf(err) }, 'passkey registration did not verify')
        throw passkeyInvalid()
      }
      const info = credentialInfo
      const at = now()
      const created = await atomic(async (s) => {
        const record = await s.passkeys.create({
          id: randomBytes(16).toString('hex'),
          user_id: userId,
          credential_id: info.id,
          public_key: info.publicKey,
          counter: info.counter,
          transports: info.transports ?? [],
          name,
          now: at
        })
        if (record !== undefined) await s.audit.append(auditEntry('passkey.added', ctx, { userId, details: { id: record.id } }), at)
        return record
      })
      if (created === undefined) throw passkeyInvalid()
      return shown(created)
    },

    async list (userId: number): Promise<Passkey[]> {
      return (await passkeys.list(userId)).map(shown)
    },

    /** Another user's passkey is as unknown as a missing one. */
    async remove (userId: number, id: string, ctx: RequestContext): Promise<void> {
      const at = now()
      const removed = await atomic(async (s) => {
        const gone = await s.passkeys.remove(userId, id)
        if (gone) await s.audit.append(auditEntry('passkey.removed', ctx, { userId, details: { id } }), at)
        return gone
      })
      if (!removed) throw passkeyNotFound()
    },

    /** POST /users/sign-in/passkey/options: for discoverable credentials, so no list of them (it would name the account). */
    async signInOptions (): Promise<PublicKeyCredentialRequestOptionsJSON> {
      const options = await loadWebAuthn().generateAuthenticationOptions({ rpID: rpId, userVerification: 'required', allowCredentials: [] })
      await issueChallenge('sign_in', null, options.challenge)
      return options
    },

    /**
     * POST /users/sign-in/passkey: every failure is the one INVALID_CREDENTIALS, whatever it was
     * (unknown credential, signature, challenge, origin, counter), so a failure tells nothing.
     */
    async signIn (credential: AuthenticationResponseJSON, ctx: RequestContext): Promise<S> {
      const passkey = await passkeys.findByCredentialId(credential.id)
      if (passkey === undefined) {
        log.info('passkey sign-in with an unknown credential')
        throw invalidCredentials()
      }
      let newCounter: number
      try {
        const result = await loadWebAuthn().verifyAuthenticationResponse({
          response: credential,
          expectedChallenge: spend('sign_in', null),
          expectedOrigin: [...origins],
          expectedRPID: rpId,
          credential: { id: passkey.credential_id, publicKey: passkey.public_key, counter: passkey.counter, transports: passkey.transports as AuthenticatorTransport[] },
          requireUserVerification: true
        })
        if (!result.verified) throw invalidCredentials()
        newCounter = result.authenticationInfo.newCounter
      } catch (err) {
        log.info({ userId: passkey.user_id, reason: reasonOf(err) }, 'passkey sign-in did not verify')
        throw invalidCredentials()
      }
      // A rival sign-in with the same or a later counter got there first: a cloned authenticator or a replay.
      if (!(await passkeys.recordUse(passkey.id, newCounter, now()))) {
        log.warn({ userId: passkey.user_id, passkeyId: passkey.id }, 'passkey signature counter did not move forward')
        throw invalidCredentials()
      }
      return signIn(passkey.user_id, ctx)
    }
  }
}

export type PasskeyService<S> = ReturnType<typeof createPasskeyService<S>>
