/** A hard deadline around a piece of async work. */

export class DeadlineError extends Error {
  override name = 'DeadlineError';
  readonly code = 'DEADLINE';
}

/** Runs `work` with a hard deadline; on expiry calls `onExpire` (to drop the connection) and rejects. */
export async function withDeadline<T>(ms: number, work: () => Promise<T>, onExpire: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpire();
      reject(new DeadlineError(`no answer within ${ms / 1000} s`));
    }, ms);
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
