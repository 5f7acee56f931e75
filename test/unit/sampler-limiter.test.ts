import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { mapWithConcurrency } from '../../src/sampler/limiter.ts';

test('never more than the limit in flight, every item done once, results in order', async () => {
  let inFlight = 0;
  let peak = 0;
  const seen: number[] = [];
  const items = Array.from({ length: 100 }, (_, i) => i);
  const results = await mapWithConcurrency(items, 7, async (item) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    seen.push(item);
    await sleep(1 + (item % 5)); // uneven durations: slots free in a different order than taken
    inFlight--;
    return item * 2;
  });
  assert.equal(peak, 7);
  assert.deepEqual(
    results,
    items.map((i) => i * 2),
  );
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    items,
  );
});

test('fewer items than the limit, and no items at all', async () => {
  assert.deepEqual(await mapWithConcurrency([1, 2], 64, async (x) => x + 1), [2, 3]);
  assert.deepEqual(await mapWithConcurrency([], 4, async (x: number) => x), []);
});

test('a limit that is not a whole number of at least 1 is refused', async () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(
      mapWithConcurrency([1], bad, async (x) => x),
      /concurrency limit must be a whole number of at least 1/,
    );
  }
});
