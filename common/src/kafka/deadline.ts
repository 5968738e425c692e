/**
 * Rejects when `promise` has not settled within `ms`. NOTE: the operation itself goes on (a kafkajs
 * request cannot be cancelled); the caller must treat its client as unusable afterwards, which is
 * why every user of this discards the client it timed out.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
