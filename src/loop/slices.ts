/**
 * Long synchronous work cut into slices, with the event loop served in between: a fleet's
 * analysis and rule evaluation take hundreds of ms a cycle, and HTTP requests (scrapes, the REST
 * API) must not wait for all of it.
 */

/** Lets the event loop serve what waits (HTTP requests) before the next slice of work. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `work` on each item in order, yielding to the event loop whenever the current slice has
 * held it for `sliceMs` or more (the first slice counts from `startedAt`). Returns the longest
 * slice, in ms: what the loop waited for at worst.
 */
export async function inSlices<T>(items: Iterable<T>, sliceMs: number, work: (item: T) => void, startedAt = performance.now()): Promise<number> {
  let longest = 0;
  let sliceStart = startedAt;
  for (const item of items) {
    work(item);
    const held = performance.now() - sliceStart;
    if (held >= sliceMs) {
      longest = Math.max(longest, held);
      await yieldToLoop();
      sliceStart = performance.now();
    }
  }
  return Math.max(longest, performance.now() - sliceStart);
}
