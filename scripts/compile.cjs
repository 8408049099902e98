// Compiles a TypeScript project into its outDir without deleting the folder first, so two
// commands (a test run and `npm start`, say) never pull files from under each other. What a
// plain tsc would leave behind, the output of a source since deleted or renamed (which
// autoload or tap would still load), is removed afterwards: every .js/.js.map/.d.ts in the
// outDir that this compilation did not emit. A successful compilation leaves STAMP in the
// outDir, dated when it began (a source saved during the compilation is newer, so stale):
// build-if-stale.cjs compares the sources with it.
//   node scripts/compile.cjs tsconfig.build.json
'use strict'
const { spawnSync } = require('node:child_process')
const { readdirSync, rmSync, utimesSync, writeFileSync } = require('node:fs')
const path = require('node:path')

const STAMP = '.build-stamp'
module.exports = { STAMP }
if (require.main === module) compile()

function compile () {
  const began = new Date()
  const project = path.resolve(process.argv[2] ?? 'tsconfig.json')
  const tsc = require.resolve('typescript/bin/tsc')
  const run = (...args) => spawnSync(process.execPath, [tsc, '-p', project, ...args], { encoding: 'utf8' })

  const shown = run('--showConfig')
  if (shown.status !== 0) {
    process.stdout.write(shown.stdout)
    process.exit(shown.status ?? 1)
  }
  const outDir = path.resolve(path.dirname(project), JSON.parse(shown.stdout).compilerOptions.outDir)

  const compiled = run('--listEmittedFiles')
  const emitted = new Set()
  for (const line of compiled.stdout.split('\n')) {
    if (line.startsWith('TSFILE: ')) emitted.add(path.resolve(line.slice('TSFILE: '.length)))
    else if (line.trim() !== '') process.stdout.write(`${line}\n`)
  }
  process.stderr.write(compiled.stderr)
  if (compiled.status !== 0) process.exit(compiled.status ?? 1)

  const OUTPUT = /\.(js|js\.map|d\.ts)$/
  function prune (dir) {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) prune(file)
      else if (OUTPUT.test(entry.name) && !emitted.has(file)) rmSync(file, { force: true })
    }
  }
  prune(outDir)

  const stamp = path.join(outDir, STAMP)
  writeFileSync(stamp, `${path.basename(project)}\n`)
  utimesSync(stamp, began, began)
}
