import { Type, type Static } from '@sinclair/typebox'
import { Timestamp } from './common'

/** A live session as its owner sees it; `current` marks the one whose token asked. */
export const Session = Type.Object({
  id: Type.String({ description: 'Opaque session id (the `sid` claim of its tokens)' }),
  created_at: Timestamp,
  last_used_at: Type.String({ format: 'date-time', description: 'The last sign-in or refresh, ISO 8601 UTC' }),
  expires_at: Type.String({ format: 'date-time', description: 'When the session ends: REFRESH_TOKEN_DAYS after sign-in' }),
  current: Type.Boolean({ description: 'Whether the token of this request belongs to it' })
}, { $id: 'Session', title: 'Session' })
export type Session = Static<typeof Session>

/** What the store keeps of a session (beyond its refresh tokens' hashes). */
export type SessionRecord = Omit<Session, 'current'> & { user_id: number }

export const SessionIdParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'A session id from GET /users/me/sessions' })
})

export const RefreshBody = Type.Object({
  refresh_token: Type.String({ minLength: 1, maxLength: 255, description: 'The refresh token of the last sign-in or refresh' })
}, { additionalProperties: false, examples: [{ refresh_token: 'Zm9vYmFyLXJlZnJlc2gtdG9rZW4tZXhhbXBsZS0wMTIzNDU2' }] })

export const PasswordChangeBody = Type.Object({
  current_password: Type.String({ minLength: 1, maxLength: 128 }),
  new_password: Type.String({ minLength: 8, maxLength: 128, description: '8 to 128 characters, not on the common breached-password list' })
}, { additionalProperties: false, examples: [{ current_password: 'a long and unusual passphrase', new_password: 'another long and unusual passphrase' }] })
