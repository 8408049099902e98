// The house's rules about imports: a file imports only its own layer or a lower one, routes
// reach plugins only through their decorators, no file outside test/ imports test/, and no
// import circle. Exits 1 and names each offending import.
//   node scripts/check-layers.cjs
// Type-only imports count: a type from a higher layer ties the lower one to it all the same.
'use strict'
const { readFileSync, readdirSync, statSync, existsSync } = require('node:fs')
const path = require('node:path')
const ts = require('typescript')

const root = path.join(__dirname, '..')

/** Lowest first; a folder's files may import its own layer and those before it. */
const LAYERS = [
  ['config/'],
  ['src/domain/', 'src/schemas/', 'src/deadline.ts', 'src/wait-for.ts', 'src/metrics.ts'],
  ['src/http/', 'src/stores/', 'src/cache/', 'src/mail/'],
  ['src/services/'],
  ['src/app.ts', 'src/build.ts', 'src/server.ts'],
  ['plugins/external/'],
  ['plugins/app/'],
  ['routes/']
]
/** Outside the layers, but they must not import test/ either. */
const KIT = ['scripts/', 'bench/']

const layerOf = (file) => LAYERS.findIndex((prefixes) => prefixes.some((p) => file === p || file.startsWith(p)))

function walk (dir) {
  if (!existsSync(path.join(root, dir))) return []
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`
    if (statSync(path.join(root, rel)).isDirectory()) return walk(rel)
    return /\.(ts|cjs|js)$/.test(name) && !name.endsWith('.d.ts') ? [rel] : []
  })
}

/** An import's file, relative to the root, or undefined for a package or a built-in. */
function resolve (from, specifier) {
  if (!specifier.startsWith('.')) return undefined
  const base = path.relative(root, path.resolve(root, path.dirname(from), specifier)).split(path.sep).join('/')
  const found = [base, `${base}.ts`, `${base}.cjs`, `${base}.js`, `${base}/index.ts`].find((f) => existsSync(path.join(root, f)) && statSync(path.join(root, f)).isFile())
  return found ?? base
}

const files = ['config', 'src', 'plugins', 'routes', ...KIT.map((k) => k.slice(0, -1))].flatMap(walk)
const graph = new Map()
const problems = []
for (const file of files) {
  const imports = ts.preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true).importedFiles
  const targets = imports.map((i) => resolve(file, i.fileName)).filter((t) => t !== undefined)
  graph.set(file, targets)
  const from = layerOf(file)
  const kit = KIT.some((k) => file.startsWith(k))
  if (from === -1 && !kit) problems.push(`${file}: in no layer (add its folder to LAYERS in scripts/check-layers.cjs)`)
  for (const target of targets) {
    if (target.startsWith('test/')) problems.push(`${file} imports ${target}: nothing outside test/ imports it`)
    else if (!kit && from !== -1 && layerOf(target) > from) problems.push(`${file} imports ${target}, a higher layer`)
    else if (file.startsWith('routes/') && target.startsWith('plugins/')) problems.push(`${file} imports ${target}: a route uses a plugin's decorators`)
  }
}

// Tarjan's strongly connected components: any component of two or more files is a circle.
let index = 0
const stack = []
const state = new Map()
function connect (file) {
  const mine = { index, low: index, onStack: true }
  index += 1
  state.set(file, mine)
  stack.push(file)
  for (const next of graph.get(file) ?? []) {
    if (!graph.has(next)) continue
    const seen = state.get(next)
    if (seen === undefined) {
      connect(next)
      mine.low = Math.min(mine.low, state.get(next).low)
    } else if (seen.onStack) mine.low = Math.min(mine.low, seen.index)
  }
  if (mine.low !== mine.index) return
  const component = []
  let member
  do {
    member = stack.pop()
    state.get(member).onStack = false
    component.push(member)
  } while (member !== file)
  if (component.length > 1) problems.push(`import circle: ${component.sort().join(' ↔ ')}`)
}
for (const file of graph.keys()) if (!state.has(file)) connect(file)

for (const problem of problems) console.log(problem)
console.log(`${files.length} files, ${[...graph.values()].reduce((n, t) => n + t.length, 0)} imports of our own: ${problems.length === 0 ? 'every import runs down a layer or across one, no circle' : `${problems.length} problem(s)`}`)
process.exitCode = problems.length === 0 ? 0 : 1
