// A plugin that yields one page, then throws mid-read (the sync fails; the service does not).
export const connector = {
  type: 'throws-in-read',
  description: 'fails after one page',
  configSchema: { type: 'object', properties: {}, additionalProperties: false },
  check: async () => {
    throw new Error('check blew up');
  },
  async *read() {
    yield {
      stream: 's',
      records: [
        {
          id: 'r1',
          kind: 'event',
          name: 'tick',
          timestamp: '2026-03-01T00:00:00.000Z',
          dimensions: {},
          attributes: {},
        },
      ],
      cursor: { page: 1 },
    };
    throw new Error('lost connection in plugin');
  },
};
