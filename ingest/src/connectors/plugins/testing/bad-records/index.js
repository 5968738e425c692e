// A plugin whose records break the ConnectorRecord contract (no timestamp).
export default {
  type: 'bad-records',
  description: 'yields an invalid record',
  configSchema: { type: 'object', properties: {}, additionalProperties: false },
  check: async () => ({ ok: true, steps: [] }),
  async *read() {
    yield { stream: 's', records: [{ id: 'r1', kind: 'event', name: 'tick' }], cursor: null };
  },
};
