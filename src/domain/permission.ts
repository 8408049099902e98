/** Ordered levels: a route that needs Author admits Admin. The one place the levels are written. */
export const Permission = {
  None: 0,
  User: 1,
  Author: 2,
  Admin: 3
} as const

export type Permission = (typeof Permission)[keyof typeof Permission]

export const PERMISSION_LEVELS: readonly Permission[] = Object.values(Permission)

export function isPermission (value: unknown): value is Permission {
  return PERMISSION_LEVELS.includes(value as Permission)
}
