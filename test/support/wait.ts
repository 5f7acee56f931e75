/** Polling for a condition in tests, with a message that says what never happened. */
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `fn` every 250 ms until it returns something truthy. A throw counts as "not yet" (a
 * database the daemon is still creating, a port not yet listening); at the deadline the error
 * names what was awaited, the last value `describe` gives, and the last error seen.
 */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 30_000, describe?: () => unknown): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      lastError = null;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const seen = describe ? `; last seen: ${JSON.stringify(describe())}` : '';
      const error = lastError ? `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}` : '';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${seen}${error}`);
    }
    await sleep(250);
  }
}
