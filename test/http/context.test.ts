import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { requestContext, sessionOf } from '../../src/http/context'
import type { RequestUser } from '../../src/schemas/token'

const requestOf = (user?: RequestUser): FastifyRequest => ({ ip: '192.0.2.1', id: 'req-1', user } as unknown as FastifyRequest)

const TOKEN_USER = { user_id: 7, user_name: 'a@example.com', permission: 1, jti: 'j', sid: 's-1', iat: 1, exp: 2 } as const
const KEY_USER = { user_id: 7, user_name: 'a@example.com', permission: 1, api_key_id: 'k-1' } as const

t.test('a session route gets the token\'s session', async (t) => {
  t.equal(sessionOf(requestOf(TOKEN_USER)).sid, 's-1')
})

t.test('a key reaching a session route is the route\'s fault, never a session id of undefined', async (t) => {
  t.throws(() => sessionOf(requestOf(KEY_USER)), /API key request has no session/)
})

t.test('the request context names the actor for a token, a key, and nobody on a public route', async (t) => {
  t.same(requestContext(requestOf(TOKEN_USER)), { ip: '192.0.2.1', requestId: 'req-1', actorId: 7 })
  t.same(requestContext(requestOf(KEY_USER)), { ip: '192.0.2.1', requestId: 'req-1', actorId: 7 })
  t.same(requestContext(requestOf()), { ip: '192.0.2.1', requestId: 'req-1', actorId: null })
})
