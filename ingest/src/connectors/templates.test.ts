import { connectorTemplates } from './templates.ts';
import { builtInConnectors } from './registry.ts';

describe('connectorTemplates', () => {
  it('has one template per built-in connector, with defaults and required fields', () => {
    expect(connectorTemplates.map((template) => template.type).sort()).toEqual(Object.keys(builtInConnectors).sort());
    const hubspot = connectorTemplates.find((template) => template.type === 'hubspot')!;
    expect(hubspot.required).toEqual(['objectType']);
    expect(hubspot.defaults).toMatchObject({
      pageSize: 100,
      lookbackSeconds: 300,
      apiBaseUrl: 'https://api.hubapi.com',
    });
    const bigquery = connectorTemplates.find((template) => template.type === 'bigquery')!;
    expect(bigquery.required).toEqual(expect.arrayContaining(['projectId', 'query', 'cursorColumn', 'mapping']));
    for (const template of connectorTemplates) {
      expect(template.configSchema.additionalProperties).toBe(false);
      expect(template.kind).toBe('connector');
      // Templates are plain data the control plane can serve as JSON.
      expect(() => JSON.stringify(template)).not.toThrow();
    }
  });
});
