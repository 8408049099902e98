import { Type, type Static } from '@sinclair/typebox'
import { Timestamp } from './common'
import { Permission } from '../domain/permission'

/** 1 User, 2 Author, 3 Admin. Not user.ts's PermissionLevel: that module lists keys in the export, and imports this one. */
const PermissionLevel = Type.Unsafe<Permission>(Type.Integer({ minimum: Permission.User, maximum: Permission.Admin, description: '1 User, 2 Author, 3 Admin' }))

/** An API key as its owner sees it: never the key itself, which only its creation answers. */
export const ApiKey = Type.Object({
  id: Type.String({ description: 'Opaque key id' }),
  name: Type.String({ description: 'The name given at creation' }),
  permission: PermissionLevel,
  created_at: Timestamp,
  expires_at: Type.String({ format: 'date-time', description: 'After this the key is refused (401 API_KEY_INVALID)' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The last use, updated at most once a minute; null before the first' })
}, { $id: 'ApiKey', title: 'ApiKey' })
export type ApiKey = Static<typeof ApiKey>

export const CreatedApiKey = Type.Object({
  id: Type.String({ description: 'Opaque key id' }),
  name: Type.String(),
  key: Type.String({ description: 'bsk_ and 256 random bits, base64url: send as `Authorization: Bearer <key>`. Shown in this answer only' }),
  permission: PermissionLevel,
  created_at: Timestamp,
  expires_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Null()
}, { $id: 'CreatedApiKey', title: 'CreatedApiKey' })
export type CreatedApiKey = Static<typeof CreatedApiKey>

export const MAX_EXPIRES_IN_DAYS = 365
export const DEFAULT_EXPIRES_IN_DAYS = 90

export const ApiKeyBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  permission: Type.Optional(Type.Integer({ minimum: 1, maximum: 3, description: "1 User, 2 Author, 3 Admin; at most the caller's current level, which is the default" })),
  expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_EXPIRES_IN_DAYS, default: DEFAULT_EXPIRES_IN_DAYS, description: `1 to ${MAX_EXPIRES_IN_DAYS}, default ${DEFAULT_EXPIRES_IN_DAYS}` }))
}, { additionalProperties: false, examples: [{ name: 'nightly import', permission: 2, expires_in_days: 90 }] })
export type ApiKeyBody = Static<typeof ApiKeyBody>

export const ApiKeyIdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'A key id from GET /users/me/api-keys' })
})

/** What the store keeps of a key: the listed form, its owner and revocation. */
export type ApiKeyRecord = ApiKey & { user_id: number }
