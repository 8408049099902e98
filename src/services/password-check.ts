import type { User } from '../schemas/user'
import { mfaCodeInvalid, notFound, wrongCurrentPassword } from '../domain/errors'
import type { UserStore } from '../stores/types'
import type { PasswordHasher } from './passwords'
import type { SignInThrottle } from './throttle'

/**
 * The current-password check of every route that asks for it (a password change, an email
 * change, leaving, disabling TOTP): a wrong password counts as a failed sign-in for the
 * account's email, so a stolen token cannot be used to guess the password past the throttle
 * (429), and answers 401 INVALID_CREDENTIALS with a plain Bearer challenge. Resolves to the user.
 *
 * `secondFactor`, when given, runs after a right password inside the same throttle attempt:
 * false is a failure too (401 MFA_CODE_INVALID). One attempt, so a right password cannot
 * clear the count that wrong codes add.
 */
export function createPasswordCheck ({ users, hasher, throttle }: { users: UserStore, hasher: PasswordHasher, throttle: SignInThrottle }) {
  return async function checkPassword (userId: number, password: string, secondFactor?: (user: User) => Promise<boolean>): Promise<User> {
    const user = await users.get(userId)
    if (user === undefined) throw notFound('user')
    const outcome = { wrongCode: false }
    const checked = await throttle.attempt(user.email, async () => {
      const record = await users.findByEmail(user.email)
      if (record === undefined || !await hasher.verify(record.password_hash, password)) return undefined
      if (secondFactor !== undefined && !await secondFactor(user)) {
        outcome.wrongCode = true
        return undefined
      }
      return true
    })
    if (checked === undefined) throw outcome.wrongCode ? mfaCodeInvalid() : wrongCurrentPassword()
    return user
  }
}

export type PasswordCheck = ReturnType<typeof createPasswordCheck>
