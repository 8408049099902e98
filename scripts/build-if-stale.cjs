// Compiles dist/ (tsconfig.build.json) only when something tsc reads changed since the last
// build, so `npm start` and the npm scripts that run dist/ start at once and a fresh
// `npm install` (its `prepare`) builds once. compile.cjs stamps its outDir with the time its
// compilation began; dist/ is stale when anything is newer: a file or folder under the
// tsconfig's `include` (a folder's time changes when a file in it is added, removed or
// renamed, so a deleted source counts too), the tsconfig files, or the installed TypeScript.
// Plain JavaScript: it runs before anything is compiled.
//   node scripts/build-if-stale.cjs
'use strict'
const { spawnSync } = require('node:child_process')
const { readdirSync, readFileSync, statSync } = require('node:fs')
const path = require('node:path')
const { STAMP } = require('./compile.cjs')

const root = path.resolve(__dirname, '..')
const project = path.join(root, 'tsconfig.build.json')
const outDir = path.join(root, 'dist')
const say = (line) => process.stderr.write(`build-if-stale: ${line}\n`)

let tsc
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] })
} catch {
  // `npm ci --omit=dev` runs `prepare` too: a production-only install has no compiler.
  say('TypeScript is not installed (a production-only install): dist/ is used as it is')
  process.exit(0)
}

/** The newest mtime (ms) under `entry`, and the path that has it. */
function newest (entry, found = { ms: 0, file: '' }) {
  let stat
  try {
    stat = statSync(entry)
  } catch {
    return found
  }
  if (stat.mtimeMs > found.ms) {
    found.ms = stat.mtimeMs
    found.file = entry
  }
  if (stat.isDirectory()) {
    for (const name of readdirSync(entry)) newest(path.join(entry, name), found)
  }
  return found
}

function staleBecause () {
  let stamp
  try {
    stamp = statSync(path.join(outDir, STAMP)).mtimeMs
  } catch {
    return 'no build yet'
  }
  let include
  try {
    include = JSON.parse(readFileSync(project, 'utf8')).include
  } catch {
    return `${path.basename(project)} is not plain JSON with an "include" list`
  }
  const inputs = [...include, 'tsconfig.json', 'tsconfig.build.json'].map((entry) => path.join(root, entry))
  inputs.push(path.join(path.dirname(tsc), '..', 'package.json'))
  const found = { ms: 0, file: '' }
  for (const input of inputs) newest(input, found)
  return found.ms > stamp ? `${path.relative(root, found.file)} changed since the last build` : undefined
}

const reason = staleBecause()
if (reason !== undefined) {
  say(`${reason}: compiling into dist/ (tsc, several seconds)`)
  const began = process.hrtime.bigint()
  const built = spawnSync(process.execPath, [path.join(__dirname, 'compile.cjs'), project], { stdio: 'inherit' })
  if (built.status !== 0) process.exit(built.status ?? 1)
  say(`built in ${(Number(process.hrtime.bigint() - began) / 1e9).toFixed(1)} s`)
}
