import { readOpenApi } from './docs.ts';

describe('the control-plane OpenAPI document', () => {
  it('declares a permission on every operation: <resource>:<action>, or public', () => {
    const { document } = readOpenApi();
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
        .map(([method, operation]) => ({ path, method, operation })),
    );
    expect(operations.length).toBeGreaterThan(40);
    for (const { path, method, operation } of operations) {
      expect([`${method} ${path}`, operation['x-muxly-permission'], operation.operationId]).toEqual([
        `${method} ${path}`,
        expect.stringMatching(/^(public|[a-z-]+:[a-z-]+)$/),
        expect.stringMatching(/^[a-z][A-Za-z0-9]+$/),
      ]);
    }
  });
});
