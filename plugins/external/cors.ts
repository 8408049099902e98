import fp from 'fastify-plugin'
import cors from '@fastify/cors'

/**
 * Browser apps on CORS_ORIGINS may call the API; unset, nothing is registered and no answer
 * carries a CORS header. Origins match exactly; any other origin gets no CORS headers, so its
 * browser refuses to hand the answer over.
 */
export default fp(async function corsPlugin (fastify) {
  const allowed = new Set(fastify.config.allowedOrigins)
  if (allowed.size === 0) return
  await fastify.register(cors, {
    // A function, not the list: for a list @fastify/cors still sends its other headers to any
    // origin; `false` from here sends none, and a preflight from elsewhere is 404.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key'],
    exposedHeaders: ['ETag', 'Link', 'Location', 'Retry-After', 'X-Request-Id', 'Idempotent-Replayed'],
    // Bearer tokens, not cookies: no credentials mode.
    credentials: false,
    maxAge: 600,
    optionsSuccessStatus: 204,
    strictPreflight: true
  })
}, { name: 'cors', dependencies: ['config', 'helmet'] })
