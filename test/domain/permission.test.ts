import t from 'tap'
import { isPermission, Permission, PERMISSION_LEVELS } from '../../src/domain/permission'

t.test('the levels are ordered, so a route that needs Author admits Admin', async (t) => {
  t.ok(Permission.None < Permission.User && Permission.User < Permission.Author && Permission.Author < Permission.Admin)
  t.same(PERMISSION_LEVELS, [0, 1, 2, 3], 'every level, lowest first')
})

t.test('isPermission accepts the levels and nothing else', async (t) => {
  for (const level of PERMISSION_LEVELS) t.ok(isPermission(level), `${level}`)
  for (const value of [-1, 4, 1.5, '2', null, undefined, NaN]) t.notOk(isPermission(value), `${String(value)}`)
})
