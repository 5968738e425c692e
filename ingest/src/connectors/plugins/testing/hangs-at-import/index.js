// A plugin whose import never finishes (a top-level await on something that never answers): the
// loader must give up on it after its timeout, and the service must start without it.
await new Promise(() => {});
export const connector = { type: 'never-loaded' };
