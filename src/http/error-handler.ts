import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, OverloadedError, ServiceUnavailableError } from '../domain/errors'
import {
  CODE_BY_STATUS, FASTIFY_ERRORS, INVALID_JSON_BODY, answerOf, badUrl, errorBody as body, headersTooLarge, internalError,
  invalidRequest, notHttp, paramTooLong, requestTimeout, uriTooLong
} from './errors'
import { JSON_CONTENT_TYPE, MAX_URL_LENGTH } from './limits'
import { countAsShed } from './request-logger'
import { API_SECURITY_HEADERS } from './security-headers'
import { validationDetails } from './validation'

export function errorHandler (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof AppError) {
    if (err instanceof ServiceUnavailableError) {
      request.log.error({ err: err.cause ?? err, service: err.service }, 'backing service unavailable')
    } else if (err instanceof OverloadedError) {
      countAsShed(request)
    }
    return reply.code(err.statusCode).headers(err.headers).send(answerOf(err))
  }

  if (err.validation !== undefined) {
    const part = err.validationContext ?? 'request'
    const details = validationDetails(err.validation)
    const first = details[0]
    const message = first === undefined ? `Invalid ${part}` : `${part}${first.path === '/' ? '' : first.path} ${first.message}`
    return reply.code(400).send(body(400, 'VALIDATION_ERROR', message, { details }))
  }

  const status = err.statusCode ?? 500
  if (status >= 400 && status < 500) {
    const known = FASTIFY_ERRORS[err.code]
    // A JSON syntax error from the parser has no FST_ code in every version: it is still a 400.
    // Anything else keeps to the contract's codes: its own where the status has one, else VALIDATION_ERROR.
    const [code, message] = known ?? (err instanceof SyntaxError
      ? INVALID_JSON_BODY
      : [CODE_BY_STATUS[status] ?? 'VALIDATION_ERROR', STATUS_CODES[status] ?? 'Bad request'])
    return reply.code(status).send(body(status, code, message))
  }

  // Anything else is ours to fix: the client gets the request id, the log gets the truth.
  request.log.error({ err }, 'unhandled error')
  return reply.code(500).send(answerOf(internalError(request.id)))
}

export function notFoundHandler (request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send(body(404, 'ROUTE_NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0] ?? ''} not found`))
}

/**
 * What the router itself refuses, before any hook runs (so before x-request-id and the security
 * headers are set): a path that is not valid percent-encoding, and a path parameter over
 * maxParamLength. The contract's shape, and never the URL: Fastify's own bodies echo it.
 */
export function frameworkErrors (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const answer = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? paramTooLong() : err.code === 'FST_ERR_BAD_URL' ? badUrl() : invalidRequest()
  void reply.code(answer.statusCode).headers({ ...API_SECURITY_HEADERS, 'x-request-id': request.id })
    .send(body(answer.statusCode, answer.code, answer.message))
}

/**
 * A request line longer than the URL limit plus room for a method and the version,
 * found in what the parser had read when the headers overflowed: that is a 414, not a 431.
 */
function longRequestLine (err: ConnectionError): boolean {
  const raw = err.rawPacket as unknown
  const bytes = Buffer.isBuffer(raw) ? raw : undefined
  if (bytes === undefined) return false
  const end = bytes.indexOf('\r\n')
  return end === -1 ? bytes.length > MAX_URL_LENGTH : end > MAX_URL_LENGTH + 32
}

function clientErrorAnswer (err: ConnectionError): AppError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return requestTimeout()
    case 'HPE_HEADER_OVERFLOW':
      return longRequestLine(err) ? uriTooLong() : headersTooLarge()
    default:
      return notHttp()
  }
}

/** Socket internals Node uses the same way: the answer in progress on this connection, if any. */
interface WithMessage { _httpMessage?: { headersSent?: boolean } | null }

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (a request not received
 * within requestTimeout, headers over the size limit, malformed HTTP): answered in the
 * contract's shape with a fresh request id, then the connection is closed. Fastify binds
 * `this` to the instance.
 */
export function clientErrorHandler (this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const { statusCode: status, code, message } = clientErrorAnswer(err)
  const requestId = randomUUID()
  this.log.info({ reqId: requestId, res: { statusCode: status }, code, parserCode: err.code }, 'client error')
  // An answer already on its way cannot be followed by another on the same connection.
  const answering = (socket as unknown as WithMessage)._httpMessage?.headersSent === true
  if (!socket.writable || answering) {
    socket.destroy()
    return
  }
  const payload = JSON.stringify(body(status, code, message))
  const headers: Record<string, string> = {
    ...API_SECURITY_HEADERS,
    'content-type': JSON_CONTENT_TYPE,
    'content-length': String(Buffer.byteLength(payload)),
    'x-request-id': requestId,
    connection: 'close'
  }
  const head = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${head}\r\n${payload}`)
  // A client that never reads or closes (slowloris) does not keep the socket: end() only half-closes.
  setTimeout(() => socket.destroy(), 1000).unref()
}
