import { Type, type Static } from '@sinclair/typebox'
import { Id, idOf } from './common'
import { Account, PermissionLevel } from './user'

/**
 * The claims of every token: the Flask design's names, plus `jti` and `sid`, and `iat`/`exp` that the
 * signer adds. It types `request.user` (plugins/external/jwt.ts) and checks every verified
 * payload (plugins/app/auth.ts), so a token the service did not shape is refused.
 */
export const TokenClaims = Type.Object({
  user_id: Id(),
  user_name: Type.String(),
  permission: PermissionLevel,
  jti: Type.String(),
  /** The session the token belongs to; a token without one is refused. */
  sid: Type.String({ minLength: 1, maxLength: 64 }),
  iat: Type.Number(),
  exp: Type.Number()
})
export type TokenClaims = Static<typeof TokenClaims>

/** Whom an API key request acts for: its user at the key's level, and no session. */
export interface ApiKeyUser {
  user_id: number
  user_name: string
  permission: Static<typeof PermissionLevel>
  api_key_id: string
}

/**
 * `request.user` on a route behind requirePermission. Only a token has a session (`sid`):
 * a route that reads one refuses keys, and reaches it through sessionOf (src/http/context.ts).
 */
export type RequestUser = TokenClaims | ApiKeyUser

/** What the service signs; the signer adds `iat` and `exp`. */
export type AccessClaims = Omit<TokenClaims, 'iat' | 'exp'>

export const TokenResponse = Type.Object({
  token: Type.String({ description: 'A JWT: send it as `Authorization: Bearer <token>` (the Authorize button)' }),
  refresh_token: Type.String({ description: 'Opaque; POST it to /users/refresh for a new pair. Spent by that use' }),
  expires_in: Type.Integer({ minimum: 1, description: 'Seconds the access token lives (ACCESS_TOKEN_MINUTES)' }),
  user: Type.Unsafe<Static<typeof Account>>(Type.Ref(idOf(Account), { description: 'Whom the token is for' }))
}, { $id: 'TokenResponse', title: 'TokenResponse' })
export type TokenResponse = Static<typeof TokenResponse>
