import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { hash, verify, Algorithm } from '@node-rs/argon2'
import { projectRoot } from '../../config/paths'

export interface Argon2Params {
  memoryCost: number
  timeCost: number
  parallelism: number
  /** Hashes and verifies in flight at once: each holds memoryCost KiB while it runs. */
  concurrency?: number | undefined
}

/**
 * More hashes in flight than cores only queue inside libuv while each holds its memory: one
 * per core the process may run on (its CPU affinity), at most two, unless configured.
 */
export const defaultHashConcurrency = (): number => Math.min(2, availableParallelism())

/** Runs at most `max` calls at once; the rest wait their turn, in order. */
function limit (max: number) {
  let running = 0
  const waiting: Array<() => void> = []
  return async function limited<T> (call: () => Promise<T>): Promise<T> {
    if (running >= max) await new Promise<void>((resolve) => waiting.push(resolve))
    running++
    try {
      return await call()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/

/**
 * argon2id through @node-rs/argon2: runs on libuv's thread pool, off the event loop. The
 * library draws a random 16-byte salt per hash and returns one self-describing PHC string,
 * so the cost can be raised later and old hashes upgraded at sign-in.
 */
export function createPasswordHasher ({ concurrency = defaultHashConcurrency(), ...params }: Argon2Params) {
  const options = { algorithm: Algorithm.Argon2id, ...params, outputLen: 32 }
  // Bounds argon2's memory (memoryCost each) and keeps libuv's pool free for other work.
  const limited = limit(concurrency)
  let dummy: Promise<string> | undefined

  return {
    hash (password: string): Promise<string> {
      return limited(() => hash(password, options))
    },
    async verify (stored: string, password: string): Promise<boolean> {
      try {
        return await limited(() => verify(stored, password))
      } catch {
        return false
      }
    },
    /**
     * Spends the same time as a real check, for an email with no account, so the answer's
     * timing does not reveal which emails exist.
     */
    async verifyDummy (password: string): Promise<false> {
      dummy ??= limited(() => hash('dummy password that no account has', options))
      const stored = await dummy
      await limited(() => verify(stored, password)).catch(() => false)
      return false
    },
    needsRehash (stored: string): boolean {
      const m = PHC.exec(stored)
      return m === null ||
        Number(m[1]) !== params.memoryCost || Number(m[2]) !== params.timeCost || Number(m[3]) !== params.parallelism
    }
  }
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>

let breached: Set<string> | undefined

/** The shipped list of common breached passwords (config/common-passwords.txt), compared case-insensitively. */
export function isBreachedPassword (password: string): boolean {
  breached ??= new Set(
    readFileSync(path.join(projectRoot, 'config', 'common-passwords.txt'), 'utf8')
      .split('\n').map((line) => line.trim().toLowerCase()).filter((line) => line !== '' && !line.startsWith('#'))
  )
  return breached.has(password.toLowerCase())
}
