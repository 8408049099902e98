import { Type, type Static } from '@sinclair/typebox'
import { Timestamp } from './common'

/** A registered passkey as its owner sees it (never its key or credential id). */
export const Passkey = Type.Object({
  id: Type.String({ description: 'Opaque passkey id' }),
  name: Type.String({ description: 'The name its owner gave it' }),
  created_at: Timestamp,
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Its last sign-in, ISO 8601 UTC; null before the first' })
}, { $id: 'Passkey', title: 'Passkey' })
export type Passkey = Static<typeof Passkey>

export const PasskeyIdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'A passkey id from GET /users/me/passkeys' })
})

/** No body, or `{}`: nothing to choose. */
export const NoOptionsBody = Type.Object({}, { additionalProperties: false, description: 'Nothing to choose: no body, or {}', examples: [{}] })

const B64URL = { pattern: '^[A-Za-z0-9_-]*$', maxLength: 16384 }
const Base64Url = (description: string) => Type.String({ ...B64URL, description })

/**
 * The browser's credential.toJSON() shapes (WebAuthn Level 3). Only what verification reads is
 * required; whatever else a browser adds is let through to @simplewebauthn/server, which
 * decides what verifies.
 */
const CredentialCommon = {
  id: Type.String({ minLength: 1, maxLength: 1400, pattern: '^[A-Za-z0-9_-]+$', description: 'The credential id, base64url' }),
  rawId: Base64Url('The credential id, base64url'),
  type: Type.Literal('public-key'),
  clientExtensionResults: Type.Object({}, { additionalProperties: true }),
  authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 }))
}

export const RegistrationCredential = Type.Object({
  ...CredentialCommon,
  response: Type.Object({
    clientDataJSON: Base64Url('The client data, base64url'),
    attestationObject: Base64Url('The attestation object, base64url'),
    transports: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 10 }))
  }, { additionalProperties: true })
}, { additionalProperties: true, description: 'RegistrationResponseJSON: what credential.toJSON() gives after navigator.credentials.create()' })

export const AuthenticationCredential = Type.Object({
  ...CredentialCommon,
  response: Type.Object({
    clientDataJSON: Base64Url('The client data, base64url'),
    authenticatorData: Base64Url('The authenticator data, base64url'),
    signature: Base64Url('The signature, base64url'),
    userHandle: Type.Optional(Base64Url('The user handle, base64url'))
  }, { additionalProperties: true })
}, { additionalProperties: true, description: 'AuthenticationResponseJSON: what credential.toJSON() gives after navigator.credentials.get()' })

/** The shape of what a browser posts (a real one comes from credential.toJSON(); these values verify nothing). */
const CREDENTIAL_ID = 'hWc0Xx0v8pcCYWJzhxAe-w'
export const PasskeyRegistrationBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100, description: '1 to 100 characters' }),
  credential: RegistrationCredential
}, {
  additionalProperties: false,
  examples: [{
    name: 'Laptop',
    credential: {
      id: CREDENTIAL_ID,
      rawId: CREDENTIAL_ID,
      type: 'public-key',
      response: { clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0', attestationObject: 'o2NmbXRkbm9uZQ', transports: ['internal'] },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform'
    }
  }]
})

export const PasskeySignInBody = Type.Object({
  credential: AuthenticationCredential
}, {
  additionalProperties: false,
  examples: [{
    credential: {
      id: CREDENTIAL_ID,
      rawId: CREDENTIAL_ID,
      type: 'public-key',
      response: { clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0', authenticatorData: 'SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ', signature: 'MEUCIQDexample', userHandle: 'dXNlci0x' },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform'
    }
  }]
})

/** PublicKeyCredentialCreationOptionsJSON / RequestOptionsJSON, as @simplewebauthn/server builds them. */
export const CreationOptions = Type.Object({
  rp: Type.Object({ id: Type.Optional(Type.String()), name: Type.String() }),
  user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }),
  challenge: Type.String({ description: 'base64url; single use, expires after 5 minutes' }),
  pubKeyCredParams: Type.Array(Type.Object({ alg: Type.Integer(), type: Type.String() })),
  timeout: Type.Optional(Type.Integer()),
  excludeCredentials: Type.Optional(Type.Array(Type.Object({ id: Type.String(), type: Type.String(), transports: Type.Optional(Type.Array(Type.String())) }))),
  authenticatorSelection: Type.Optional(Type.Object({
    authenticatorAttachment: Type.Optional(Type.String()),
    residentKey: Type.Optional(Type.String()),
    requireResidentKey: Type.Optional(Type.Boolean()),
    userVerification: Type.Optional(Type.String())
  })),
  hints: Type.Optional(Type.Array(Type.String())),
  attestation: Type.Optional(Type.String()),
  extensions: Type.Optional(Type.Object({}, { additionalProperties: true }))
}, { $id: 'PasskeyCreationOptions', title: 'PasskeyCreationOptions', description: 'PublicKeyCredentialCreationOptionsJSON' })

export const RequestOptions = Type.Object({
  challenge: Type.String({ description: 'base64url; single use, expires after 5 minutes' }),
  timeout: Type.Optional(Type.Integer()),
  rpId: Type.Optional(Type.String()),
  allowCredentials: Type.Optional(Type.Array(Type.Object({ id: Type.String(), type: Type.String(), transports: Type.Optional(Type.Array(Type.String())) }))),
  userVerification: Type.Optional(Type.String()),
  hints: Type.Optional(Type.Array(Type.String())),
  extensions: Type.Optional(Type.Object({}, { additionalProperties: true }))
}, { $id: 'PasskeyRequestOptions', title: 'PasskeyRequestOptions', description: 'PublicKeyCredentialRequestOptionsJSON' })
