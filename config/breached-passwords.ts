import { readFileSync } from 'node:fs'
import path from 'node:path'
import { projectRoot } from './paths'

let breached: Set<string> | undefined

/**
 * The shipped list of common breached passwords (config/common-passwords.txt), compared
 * case-insensitively. Here, beside the list, because both the configuration (a breached
 * ADMIN_PASSWORD refuses to start) and sign-up and password change apply it.
 */
export function isBreachedPassword (password: string): boolean {
  breached ??= new Set(
    readFileSync(path.join(projectRoot, 'config', 'common-passwords.txt'), 'utf8')
      .split('\n').map((line) => line.trim().toLowerCase()).filter((line) => line !== '' && !line.startsWith('#'))
  )
  return breached.has(password.toLowerCase())
}
