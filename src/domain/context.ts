/**
 * Who asked, from where, in which request: what a service records with an audit event. Routes
 * make it from the request (src/http/context.ts); services and stores never see the request.
 */
export interface RequestContext {
  /** The client address (X-Forwarded-For only through a trusted proxy). */
  ip: string
  /** The X-Request-Id of the request. */
  requestId: string
  /** The signed-in user who asked; null for an anonymous request. */
  actorId: number | null
}
