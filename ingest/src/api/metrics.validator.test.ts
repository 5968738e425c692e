import { loadIngestOpenApi } from './app.ts';
import { compileOperationValidator, RequestValidationError } from './metrics.validator.ts';

const validate = compileOperationValidator(loadIngestOpenApi(), '/v1/metrics', 'post');
const request = (body: unknown, headers: Record<string, string> = {}, query: Record<string, string> = {}) => ({
  headers: { 'content-type': 'application/json', ...headers } as Record<string, string>,
  query,
  body,
  path: '/v1/metrics',
});
const failure = (input: ReturnType<typeof request>) => {
  try {
    validate(input);
  } catch (error) {
    expect(error).toBeInstanceOf(RequestValidationError);
    const { status, message, errors } = error as RequestValidationError;
    return { status, message, errors: errors.map(({ path, message: detail }) => ({ path, detail })) };
  }
  throw new Error('the request was accepted');
};

test('a valid metric and a valid batch pass, and are left as they were', () => {
  const batch = { metrics: [{ name: 'a', value: 1, timestamp: '2026-05-01T10:00:00Z', dimensions: { x: 'y' } }] };
  const copy = structuredClone(batch);
  expect(() => validate(request(batch))).not.toThrow();
  expect(batch).toEqual(copy);
  expect(() =>
    validate(request({ name: 'a', value: 1 }, { 'content-type': 'Application/JSON; charset=UTF-8' })),
  ).not.toThrow();
});

test('body errors carry the paths the problem handler turns into JSON pointers', () => {
  expect(failure(request({ metrics: [{ name: '9x', value: '1', extra: 1 }] })).errors).toEqual([
    { path: '/body/metrics/0/extra', detail: 'must NOT have additional properties' },
    { path: '/body/metrics/0/name', detail: 'must match pattern "^[A-Za-z_:][A-Za-z0-9_.:/-]*$"' },
    { path: '/body/metrics/0/value', detail: 'must be number' },
    { path: '/body', detail: 'must match "then" schema' },
  ]);
  expect(failure(request({ metrics: [] })).errors).toEqual([
    { path: '/body/metrics', detail: 'must NOT have fewer than 1 items' },
    { path: '/body', detail: 'must match "then" schema' },
  ]);
  // No coercion: a number in a string is not a number. Formats as the middleware checks them ("fast").
  expect(failure(request({ name: 'a', value: '1', timestamp: 'yesterday' })).errors).toEqual([
    { path: '/body/value', detail: 'must be number' },
    { path: '/body/timestamp', detail: 'must match format "date-time"' },
    { path: '/body', detail: 'must match "else" schema' },
  ]);
  expect(failure(request(undefined)).errors).toEqual([{ path: '/body', detail: "must have required property 'body'" }]);
});

test('a header over its schema is a 400 whose message names it', () => {
  expect(failure(request({ name: 'a', value: 1 }, { traceparent: 'x'.repeat(513) }))).toEqual({
    status: 400,
    message: 'request/headers/traceparent must NOT have more than 512 characters',
    errors: [{ path: '/headers/traceparent', detail: 'must NOT have more than 512 characters' }],
  });
});

test('the media type is checked first (415), then query parameters (400), then the schema', () => {
  expect(failure(request('x', { 'content-type': 'text/plain' }, { a: '1' }))).toMatchObject({
    status: 415,
    message: 'unsupported media type text/plain',
  });
  expect(failure({ ...request({}), headers: {} })).toMatchObject({ status: 415, message: 'media type not specified' });
  expect(failure(request({}, {}, { b: '1', a: '2' }))).toEqual({
    status: 400,
    message: "Unknown query parameter 'b'",
    errors: [{ path: '/query/b', detail: "Unknown query parameter 'b'" }],
  });
});

test('an operation using what this validator does not implement stops the start', () => {
  const document = loadIngestOpenApi() as { paths: Record<string, Record<string, { parameters: unknown[] }>> };
  document.paths['/v1/metrics']!.post!.parameters.push({ in: 'query', name: 'dryRun', schema: { type: 'boolean' } });
  expect(() => compileOperationValidator(document, '/v1/metrics', 'post')).toThrow(/only header parameters/);
  expect(() => compileOperationValidator(document, '/v1/nothing', 'post')).toThrow(/no POST \/v1\/nothing/);
});
