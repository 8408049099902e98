import { Type, type Static } from '@sinclair/typebox'
import { Permission, PERMISSION_LEVELS } from '../domain/permission'
import { Id, Timestamp } from './common'

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
  created_at: Timestamp
}, { $id: 'User', title: 'User' })
export type User = Static<typeof User>

/** What the store keeps beyond the public body. Never answered. */
export type UserRecord = User & { password_hash: string }

/** An account as sign-up and sign-in name it. */
export const Account = Type.Object({ id: Id(), email: Type.String() }, { $id: 'Account', title: 'Account' })

export const SignUpBody = Type.Object({
  email: Type.String({ format: 'email', maxLength: 254 }),
  password: Type.String({ minLength: 8, maxLength: 128, description: '8 to 128 characters, not on the common breached-password list' })
}, { additionalProperties: false, examples: [{ email: 'reader@example.com', password: 'a long and unusual passphrase' }] })

export const SignInBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 128 })
}, { additionalProperties: false, examples: [{ email: 'reader@example.com', password: 'a long and unusual passphrase' }] })

export const PermissionBody = Type.Object({
  permission: PermissionLevel
}, { additionalProperties: false, examples: [{ permission: 2 }] })
