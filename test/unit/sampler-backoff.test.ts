import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, DEFAULT_BACKOFF_JITTER, DEFAULT_MAX_BACKOFF_MS } from '../../src/sampler/backoff.ts';
import { scheduleIntervalMs } from '../../src/sampler/sampler.ts';

const policy = { initialMs: 10_000, maxMs: DEFAULT_MAX_BACKOFF_MS, jitter: DEFAULT_BACKOFF_JITTER };
const middle = () => 0.5; // no jitter

test('the pause starts at one interval and doubles on every failed attempt, up to 5 minutes', () => {
  const pauses = [1, 2, 3, 4, 5, 6, 7, 8, 50, 10_000].map((n) => backoffDelayMs(n, policy, middle));
  assert.deepEqual(pauses, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000, 300_000, 300_000]);
});

test('the jitter stays within ±20% and does move the pause', () => {
  assert.equal(
    backoffDelayMs(1, policy, () => 0),
    8_000,
  );
  assert.equal(
    backoffDelayMs(1, policy, () => 0.999999),
    12_000,
  );
  assert.equal(
    backoffDelayMs(20, policy, () => 0),
    240_000,
  );
  assert.equal(
    backoffDelayMs(20, policy, () => 0.999999),
    360_000,
  );
  const spread = new Set(Array.from({ length: 200 }, () => backoffDelayMs(3, policy)));
  for (const p of spread) assert.ok(p >= 32_000 && p <= 48_000, `${p} within 40 s ± 20%`);
  assert.ok(spread.size > 50, 'nodes that failed together retry at different times');
});

test('an interval longer than the cap: the cap wins, the node is retried at the next tick', () => {
  assert.equal(backoffDelayMs(1, { ...policy, initialMs: 3600_000 }, middle), 300_000);
});

test("the first pause is the schedule's interval", () => {
  assert.equal(scheduleIntervalMs('*/10 * * * * *'), 10_000);
  assert.equal(scheduleIntervalMs('* * * * * *'), 1_000);
  assert.equal(scheduleIntervalMs('*/5 * * * *'), 300_000);
  assert.equal(scheduleIntervalMs('0,5 * * * * *'), 5_000, 'uneven gaps: the shorter one');
});
