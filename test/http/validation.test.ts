import t from 'tap'
import { BookBody } from '../../src/schemas/book'
import { compileBodyValidator, validationDetails } from '../../src/http/validation'

t.test('each Ajv keyword becomes a JSON pointer to the field and what is wrong with it', async (t) => {
  t.same(validationDetails([{ keyword: 'required', instancePath: '', params: { missingProperty: 'title' } }]), [{ path: '/title', message: 'is required' }])
  t.same(validationDetails([{ keyword: 'required', instancePath: '/user', params: { missingProperty: 'email' } }]), [{ path: '/user/email', message: 'is required' }], 'under the object that misses it')
  t.same(validationDetails([{ keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'rating' } }]), [{ path: '/rating', message: 'is not an allowed field' }])
  t.same(validationDetails([{ keyword: 'type', instancePath: '/total_pages', params: { type: 'integer' }, message: 'must be integer' }]), [{ path: '/total_pages', message: 'must be integer' }], 'other keywords keep Ajv\'s message')
  t.same(validationDetails([{ keyword: 'type', instancePath: '', message: 'must be object' }]), [{ path: '/', message: 'must be object' }], 'the body itself is "/"')
  t.same(validationDetails([{ keyword: 'format', instancePath: '/published_at' }]), [{ path: '/published_at', message: 'is invalid' }], 'no message from Ajv')
  t.same(validationDetails([]), [])
})

t.test('a body broken three ways, through the validator POST bodies use, gives one detail per fault', async (t) => {
  const validate = compileBodyValidator(BookBody)
  t.equal(validate({ author: 'A', total_pages: '100', rating: 5 }), false)
  const details = validationDetails(validate.errors ?? []).sort((x, y) => x.path.localeCompare(y.path))
  t.same(details, [
    { path: '/rating', message: 'is not an allowed field' },
    { path: '/title', message: 'is required' },
    { path: '/total_pages', message: 'must be integer' }
  ], 'no coercion: "100" is not a page count')
  t.equal(validate({ title: 'T', author: 'A' }), true, 'a good body passes')
})
