import { Type } from '@sinclair/typebox'
import { ERROR_CODES, type ErrorCode } from '../domain/errors'
import { ServiceStates, idOf } from './common'

/** Every error, Fastify's own included, answers this shape (src/http/error-handler.ts). */
export const ErrorResponse = Type.Object({
  statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
  code: Type.Unsafe<ErrorCode>({ type: 'string', enum: [...ERROR_CODES], description: 'Stable machine-readable code, e.g. TOKEN_REQUIRED' }),
  error: Type.String({ description: 'The HTTP reason phrase' }),
  message: Type.String({ description: 'A human sentence' }),
  details: Type.Optional(Type.Array(Type.Object({
    path: Type.String({ description: 'JSON pointer into the request part' }),
    message: Type.String()
  }))),
  request_id: Type.Optional(Type.String({ description: 'Set on 5xx: quote it when reporting the problem' }))
}, { $id: 'ErrorResponse', title: 'ErrorResponse' })

/**
 * Readiness's 503: the one error shape, plus the state of each configured service when they
 * were checked (NOT_READY); SERVICE_UNAVAILABLE while shutting down or shedding load has none.
 */
export const NotReadyResponse = Type.Intersect([
  Type.Ref(idOf(ErrorResponse)),
  Type.Object({ services: Type.Optional(ServiceStates) })
], { $id: 'NotReadyResponse', title: 'NotReadyResponse' })
