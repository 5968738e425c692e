import { ApiKeyVerifier, hashApiKey, presentedApiKey } from './api-keys.ts';

const verifier = new ApiKeyVerifier([{ id: 'writer', hash: hashApiKey('mxk_secret_one') }]);

test('a known key yields its id; unknown keys yield nothing', () => {
  expect(verifier.verify('mxk_secret_one')).toBe('writer');
  expect(verifier.verify('mxk_secret_two')).toBeUndefined();
  expect(verifier.verify('')).toBeUndefined();
});

test('keys are read from a bearer token or X-API-Key', () => {
  expect(presentedApiKey({ authorization: 'Bearer abc' })).toBe('abc');
  expect(presentedApiKey({ authorization: 'bearer  abc ' })).toBe('abc');
  expect(presentedApiKey({ 'x-api-key': 'def' })).toBe('def');
  expect(presentedApiKey({ authorization: 'Basic xyz' })).toBeUndefined();
  expect(presentedApiKey({})).toBeUndefined();
});

test('the hash format is sha256 hex', () => {
  expect(hashApiKey('mxk_local_dev_only_change_me')).toBe(
    'sha256:4096d8a2c64bf0958353ce0ed892275eb25d25153f410e2eac281f82595f7fc4',
  );
});
