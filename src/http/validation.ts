import Ajv, { type ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchema, FastifySchemaCompiler } from 'fastify'

const common = { useDefaults: true, allErrors: true, strict: false } as const

// Bodies are JSON and must already have the right types: no coercion ("12" is not 12,
// null is not 0), and unknown fields are reported, never dropped or stored.
const bodyAjv = addFormats(new Ajv({ ...common, coerceTypes: false, removeAdditional: false }))
// Query strings and path params are text by nature: they may coerce ("?limit=10").
const textAjv = addFormats(new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false }))

export const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object)

/** A body validator outside a route (the bulk importer), by exactly the rules POST bodies follow. */
export const compileBodyValidator = (schema: object) => bodyAjv.compile(schema)

export interface Detail { path: string, message: string }

/** Ajv's errors as the contract's `details`: a JSON pointer to the field and what is wrong with it. */
export function validationDetails (errors: Array<Partial<ErrorObject>>): Detail[] {
  return errors.map((e) => {
    const params = (e.params ?? {}) as Record<string, unknown>
    const base = e.instancePath ?? ''
    if (e.keyword === 'required') return { path: `${base}/${String(params.missingProperty)}`, message: 'is required' }
    if (e.keyword === 'additionalProperties') {
      return { path: `${base}/${String(params.additionalProperty)}`, message: 'is not an allowed field' }
    }
    return { path: base === '' ? '/' : base, message: e.message ?? 'is invalid' }
  })
}
