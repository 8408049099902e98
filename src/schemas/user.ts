import { Type, type Static } from '@sinclair/typebox'
import { Permission, PERMISSION_LEVELS } from '../domain/permission'
import { Id, Timestamp, idOf } from './common'
import { Passkey } from './passkey'
import { ApiKey } from './api-key'
import { Review } from './review'
import { Session } from './session'

/** The levels of src/domain/permission.ts as a schema whose static type is Permission. */
export const PermissionLevel = Type.Unsafe<Permission>(Type.Integer({
  minimum: Math.min(...PERMISSION_LEVELS),
  maximum: Math.max(...PERMISSION_LEVELS),
  description: Object.entries(Permission).map(([name, level]) => `${level} ${name}`).join(', ')
}))

export const User = Type.Object({
  id: Id(),
  email: Type.String(),
  permission: PermissionLevel,
  created_at: Timestamp,
  email_verified: Type.Boolean({ description: 'Whether the address has been proven by a token sent to it' }),
  totp_enabled: Type.Boolean({ description: 'Whether sign-in asks for a TOTP code (a confirmed authenticator)' })
}, { $id: 'User', title: 'User' })
export type User = Static<typeof User>

/** What the store keeps beyond the public body. Never answered. */
export type UserRecord = User & { password_hash: string }

/**
 * The one form of an email that is stored, compared and counted: trimmed and lower-cased.
 * Applied where an email comes in, once: to a request body before its schema checks it
 * (routes/users), and to ADMIN_EMAIL (plugins/app/services.ts). Services take it as given.
 */
export const normaliseEmail = (email: string): string => email.trim().toLowerCase()

/** An account as sign-up and sign-in name it. */
export const Account = Type.Object({ id: Id(), email: Type.String() }, { $id: 'Account', title: 'Account' })

export const SignUpBody = Type.Object({
  email: Type.String({ format: 'email', maxLength: 254 }),
  password: Type.String({ minLength: 8, maxLength: 128, description: '8 to 128 characters, not on the common breached-password list' })
}, { additionalProperties: false, examples: [{ email: 'reader@example.com', password: 'a long and unusual passphrase' }] })

/**
 * Some character that String.prototype.trim() keeps (ECMAScript's WhiteSpace and
 * LineTerminator, spelled out: `\S` means another set in other languages' regexes, and
 * clients generate from this). The email is trimmed before validation (routes/users), so an
 * email of spaces alone is "no email": the document says so instead of accepting it on paper
 * and answering 400 (schemathesis found `"\t"`).
 */
/** A TOTP code or a recovery code, wherever one stands beside a credential. */
export const MfaCode = Type.String({ minLength: 1, maxLength: 64, description: 'A TOTP code (6 digits) or an unused recovery code; only asked of an account with TOTP on' })

const NOT_ONLY_SPACE = String.raw`[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]`

export const SignInBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254, pattern: NOT_ONLY_SPACE, description: 'Trimmed before it is checked or compared' }),
  password: Type.String({ minLength: 1, maxLength: 128 }),
  code: Type.Optional(MfaCode)
}, { additionalProperties: false, examples: [{ email: 'reader@example.com', password: 'a long and unusual passphrase' }] })

/** A token from a message, as its `Token:` line shows it (base64url of 32 bytes is 43 characters). */
const MailToken = Type.String({ minLength: 1, maxLength: 128, description: 'The token from the message (its link or its `Token:` line)' })
const NewPassword = Type.String({ minLength: 8, maxLength: 128, description: '8 to 128 characters, not on the common breached-password list' })
const ADDRESS = { format: 'email', maxLength: 254 } as const

export const VerifyEmailBody = Type.Object({ token: MailToken }, {
  additionalProperties: false, examples: [{ token: 'q3Jx0n7hZbYvT1c5WkR9uA2sLm8dFe4gHi6jKo0pQrs' }]
})

export const PasswordResetBody = Type.Object({
  email: Type.String({ ...ADDRESS, description: 'Trimmed and lower-cased before it is checked' })
}, { additionalProperties: false, examples: [{ email: 'reader@example.com' }] })

export const PasswordResetConfirmBody = Type.Object({
  token: MailToken,
  new_password: NewPassword,
  code: Type.Optional(MfaCode)
}, { additionalProperties: false, examples: [{ token: 'q3Jx0n7hZbYvT1c5WkR9uA2sLm8dFe4gHi6jKo0pQrs', new_password: 'another long and unusual passphrase' }] })

export const EmailChangeBody = Type.Object({
  password: Type.String({ minLength: 1, maxLength: 128 }),
  new_email: Type.String({ ...ADDRESS, description: 'Trimmed and lower-cased before it is checked; must be free' })
}, { additionalProperties: false, examples: [{ password: 'a long and unusual passphrase', new_email: 'new-address@example.com' }] })

export const PermissionBody = Type.Object({
  permission: PermissionLevel
}, { additionalProperties: false, examples: [{ permission: 2 }] })

/** DELETE /users/me: the password, asked again. */
export const DeleteAccountBody = Type.Object({
  password: Type.String({ minLength: 1, maxLength: 128, description: 'The current password' })
}, { additionalProperties: false, examples: [{ password: 'a long and unusual passphrase' }] })


/** Everything the service holds about one account, as GET /users/me/export answers it. */
export const AccountExport = Type.Object({
  user: Type.Unsafe<User>(Type.Ref(idOf(User), { description: 'As GET /users/me answers it' })),
  sessions: Type.Array(Type.Unsafe<Session>(Type.Ref(idOf(Session))), { description: 'As GET /users/me/sessions lists them' }),
  reviews: Type.Array(Type.Unsafe<Review>(Type.Ref(idOf(Review))), { description: 'Every review the user wrote, newest first' }),
  api_keys: Type.Array(Type.Unsafe<ApiKey>(Type.Ref(idOf(ApiKey))), { description: 'As GET /users/me/api-keys lists them (never the keys themselves)' }),
  passkeys: Type.Array(Type.Unsafe<Passkey>(Type.Ref(idOf(Passkey))), { description: 'As GET /users/me/passkeys lists them' })
}, { $id: 'AccountExport', title: 'AccountExport' })
export type AccountExport = Static<typeof AccountExport>
