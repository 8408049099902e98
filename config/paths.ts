import { existsSync } from 'node:fs'
import path from 'node:path'

/** The folder holding package.json, whether this runs from the sources or from dist/. */
function findRoot (from: string): string {
  let dir = from
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error(`package.json not found above ${from}`)
    dir = parent
  }
  return dir
}

export const projectRoot = findRoot(__dirname)
