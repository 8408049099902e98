import { Type, type Static } from '@sinclair/typebox'
import { MfaCode } from './user'

/** POST /users/me/totp: what an authenticator app needs, shown once per secret. */
export const TotpSetup = Type.Object({
  secret: Type.String({ pattern: '^[A-Z2-7]+=*$', minLength: 32, description: 'Base32, 160 random bits; pending until confirmed' }),
  otpauth_url: Type.String({ description: 'otpauth://totp/Bookstore:<email>?secret=<secret>&issuer=Bookstore, for a QR code' })
}, { $id: 'TotpSetup', title: 'TotpSetup' })
export type TotpSetup = Static<typeof TotpSetup>

/** POST /users/me/totp/confirm: each works once in place of a code; shown only here. */
export const RecoveryCodes = Type.Object({
  recovery_codes: Type.Array(Type.String(), { minItems: 10, maxItems: 10, description: 'Each works once in place of a code (not at confirm); shown only here' })
}, { $id: 'RecoveryCodes', title: 'RecoveryCodes' })
export type RecoveryCodes = Static<typeof RecoveryCodes>

export const TotpConfirmBody = Type.Object({
  code: Type.String({ minLength: 1, maxLength: 64, description: 'The current 6-digit code of the pending secret (a recovery code is not taken here)' })
}, { additionalProperties: false, examples: [{ code: '123456' }] })

export const TotpDisableBody = Type.Object({
  password: Type.String({ minLength: 1, maxLength: 128, description: 'The current password' }),
  code: MfaCode
}, { additionalProperties: false, examples: [{ password: 'a long and unusual passphrase', code: '123456' }] })
