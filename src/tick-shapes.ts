import { executionAsyncResource } from 'node:async_hooks'

/**
 * Keeps one of Node's own tick objects (what process.nextTick queues) alive for the life of
 * the process, from the moment this module is loaded.
 *
 * Why: V8 forgets the shapes (maps) of objects of which none is alive at a full garbage
 * collection, and makes them anew the next time. The service's start-up runs several full
 * collections while no tick is pending, so the shapes of the object literal nextTick builds
 * were made again and again; the literal's property definitions saw a new shape each time,
 * their feedback went megamorphic, and the optimized nextTick then defined three of its four
 * properties through the runtime, on every tick of every request (docs/PERFORMANCE.md, "What
 * is left to 0.85"). One tick object kept alive keeps its shapes, and the feedback one shape.
 * Inside a tick's callback the current async resource is that tick's object.
 */
export const pinnedTicks: object[] = []
process.nextTick(() => { pinnedTicks.push(executionAsyncResource()) })
