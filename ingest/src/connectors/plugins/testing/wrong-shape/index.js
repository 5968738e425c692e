// A module that is not a connector: no read, a schema that allows unknown fields.
export default {
  type: 'wrong-shape',
  description: 'missing read',
  configSchema: { type: 'object' },
  check: async () => ({ ok: true, steps: [] }),
};
