import type { User } from '../schemas/user'
import { notFound, wrongCurrentPassword } from '../domain/errors'
import type { UserStore } from '../stores/types'
import type { PasswordHasher } from './passwords'
import type { SignInThrottle } from './throttle'

/**
 * The current-password check of every route that asks for it (a password change, an email
 * change, leaving): a wrong password counts as a failed sign-in for the account's email, so
 * a stolen token cannot be used to guess the password past the throttle (429), and answers
 * 401 INVALID_CREDENTIALS with a plain Bearer challenge. Resolves to the user.
 */
export function createPasswordCheck ({ users, hasher, throttle }: { users: UserStore, hasher: PasswordHasher, throttle: SignInThrottle }) {
  return async function checkPassword (userId: number, password: string): Promise<User> {
    const user = await users.get(userId)
    if (user === undefined) throw notFound('user')
    const checked = await throttle.attempt(user.email, async () => {
      const record = await users.findByEmail(user.email)
      return record !== undefined && await hasher.verify(record.password_hash, password) ? true : undefined
    })
    if (checked === undefined) throw wrongCurrentPassword()
    return user
  }
}

export type PasswordCheck = ReturnType<typeof createPasswordCheck>
