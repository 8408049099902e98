/** Ordered levels: a route that needs Author admits Admin. */
export const Permission = {
  None: 0,
  User: 1,
  Author: 2,
  Admin: 3
} as const

export type Permission = (typeof Permission)[keyof typeof Permission]

export const PERMISSION_LEVELS: readonly Permission[] = Object.values(Permission)
