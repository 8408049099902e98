// The house's import rules (`npm run lint:layers`, in CI): data flows one way, route → service
// → store → a plugin's decorator, so a file imports its own layer or a lower one, never a higher
// one; routes reach plugins only through their decorators; nothing outside test/ imports test/;
// and no import circle. Type-only imports count: a type from a higher layer ties the lower
// one to it all the same. README.md's "Layout" draws the layers.
'use strict'

/** Each layer, lowest first, as path patterns; a layer may import those before it. */
const LAYERS = [
  ['config', '^config/'],
  ['domain and schemas', '^src/(domain|schemas)/|^src/(deadline|wait-for|metrics|tracing)\\.ts$'],
  ['http, stores, cache', '^src/(http|stores|cache|mail)/'],
  ['services', '^src/services/'],
  ['the app', '^src/(app|build|server|tracing-sdk|tick-shapes)\\.ts$'],
  ['third-party plugins', '^plugins/external/'],
  ['our plugins', '^plugins/app/'],
  ['routes', '^routes/']
]

/** Files of the project (packages and built-ins are not layered). */
const OURS = '^(src|plugins|routes|config|test|bench|scripts)/'

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `no-import-above-${name.replace(/\W+/g, '-')}`,
  comment: `${name} must not import a higher layer`,
  severity: 'error',
  from: { path },
  to: { path: OURS, pathNot: LAYERS.slice(0, i + 1).map(([, lowerOrSame]) => lowerOrSame).join('|') }
}))

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'routes-use-decorators',
      comment: 'a route uses what plugins decorate, never a plugin file',
      severity: 'error',
      from: { path: '^routes/' },
      to: { path: '^plugins/' }
    },
    {
      name: 'no-import-of-test',
      comment: 'only tests import test/',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' }
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true }
    },
    {
      name: 'in-a-layer',
      comment: 'every file of the app belongs to a layer: add a new folder to LAYERS',
      severity: 'error',
      from: {
        path: '^(src|plugins|routes|config)/',
        pathNot: LAYERS.map(([, path]) => path).join('|')
      },
      to: { path: OURS }
    }
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|dist-test|node_modules|\\.node24)/' }
  }
}
