/**
 * The per-minute rates kept one sample at a time, over days that wrap their ring of buckets many
 * times: the long rate and the rate distribution equal those computed from scratch over the
 * same minutes, and the memory stays what the horizon needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MinuteRates } from '../../src/analysis/minute-rates.ts';
import { quantileSorted } from 'simple-statistics';
import { minuteRateDistribution, rateOf } from '../../src/analysis/rates.ts';

const MINUTE = 60_000;

type Bucket = { minute: number; epoch: number; seconds: number; bytes: number; writeSets: number };

/** Adds a delta to the from-scratch buckets as MinuteRates does: to the last one when of the same minute and epoch. */
function addTo(buckets: Bucket[], t: number, epoch: number, d: { seconds: number; bytes: number; writeSets: number }): void {
  const minute = Math.floor(t / MINUTE) * MINUTE;
  const last = buckets.at(-1);
  if (last && last.minute === minute && last.epoch === epoch) {
    last.seconds += d.seconds;
    last.bytes += d.bytes;
    last.writeSets += d.writeSets;
  } else buckets.push({ minute, epoch, ...d });
}

test('three days through a one-hour horizon: every hour the same figures as from scratch, in the room one horizon takes', () => {
  const horizonMs = 3600_000;
  const rates = new MinuteRates(horizonMs);
  rates.reserve(0);
  const reserved = rates.byteSize;
  // Whole buckets as Float32 stores them, so that the from-scratch sums see the same values.
  const buckets: Bucket[] = [];
  const start = Date.UTC(2026, 10, 1);
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let t = start + 10_000; t <= start + 3 * 86400_000; t += 10_000) {
    // A load that changes every quarter of an hour, with a pause of ten minutes every six hours.
    const paused = (t - start) % (6 * 3600_000) < 10 * MINUTE;
    const bytes = paused ? 0 : Math.round((1 + ((Math.floor((t - start) / (15 * MINUTE)) * 7) % 11)) * 1000 * (0.5 + random()));
    const d = { seconds: 10, bytes, writeSets: Math.round(bytes / 500) };
    rates.add(t, 1, d);
    rates.long(t); // as a cycle does: what has left the horizon leaves the ring
    addTo(buckets, t, 1, d);
    if ((t - start) % 3600_000 !== 5 * MINUTE + 30_000) continue;
    const now = t;
    const stored = buckets.map((b) => ({ ...b, seconds: Math.fround(b.seconds), bytes: Math.fround(b.bytes), writeSets: Math.fround(b.writeSets) }));
    // The open bucket (this minute) is counted as it is, not yet rounded.
    stored[stored.length - 1] = buckets.at(-1)!;
    const inRate = stored.filter((b) => b.minute > now - horizonMs - MINUTE);
    const inDistribution = stored.filter((b) => b.minute >= now - horizonMs - MINUTE);
    const expectedRate = rateOf(inRate)!;
    const gotRate = rates.long(now)!;
    assert.ok(
      Math.abs(gotRate.bytesPerSecond - expectedRate.bytesPerSecond) <= 1e-6 * expectedRate.bytesPerSecond,
      `at ${new Date(now).toISOString()}: ${gotRate.bytesPerSecond} against ${expectedRate.bytesPerSecond}`,
    );
    assert.equal(gotRate.coveredSeconds, expectedRate.coveredSeconds);
    const expected = minuteRateDistribution(inDistribution)!;
    const got = rates.distribution(now)!;
    assert.equal(got.minutes, expected.minutes, `at ${new Date(now).toISOString()}`);
    for (const q of ['p50', 'p95', 'p99', 'peak'] as const)
      assert.ok(Math.abs(got[q] - expected[q]) <= 1e-6 * expected[q], `${q} at ${new Date(now).toISOString()}: ${got[q]} against ${expected[q]}`);
  }
  // The columns never grew; the minutes are one run (the load never stopped being sampled).
  assert.equal(rates.byteSize, reserved + 16, 'the ring grew past what one horizon needs');
});

test('gaps in sampling and new epochs: the buckets that leave the horizon are the right ones', () => {
  const horizonMs = 3600_000;
  const rates = new MinuteRates(horizonMs);
  const buckets: Bucket[] = [];
  const start = Date.UTC(2026, 10, 2);
  let checked = 0;
  for (let t = start + 10_000; t <= start + 8 * 3600_000; t += 10_000) {
    const sinceStart = t - start;
    // Unreachable for 25 minutes of every second hour; a counter reset (new epoch) every 3 h 10 min.
    if (sinceStart % (2 * 3600_000) >= 3600_000 && sinceStart % (2 * 3600_000) < 3600_000 + 25 * MINUTE) continue;
    const epoch = 1 + Math.floor(sinceStart / (190 * MINUTE));
    const d = { seconds: 10, bytes: 1000 + (Math.floor(sinceStart / MINUTE) % 37) * 100, writeSets: 3 };
    rates.add(t, epoch, d);
    addTo(buckets, t, epoch, d);
    if (sinceStart % (7 * MINUTE) !== 0) continue;
    const stored = buckets.map((b) => ({ ...b, seconds: Math.fround(b.seconds), bytes: Math.fround(b.bytes), writeSets: Math.fround(b.writeSets) }));
    stored[stored.length - 1] = buckets.at(-1)!;
    const expectedRate = rateOf(stored.filter((b) => b.minute > t - horizonMs - MINUTE))!;
    const gotRate = rates.long(t)!;
    assert.ok(Math.abs(gotRate.bytesPerSecond - expectedRate.bytesPerSecond) <= 1e-6 * expectedRate.bytesPerSecond, `rate at ${new Date(t).toISOString()}`);
    assert.equal(gotRate.coveredSeconds, expectedRate.coveredSeconds, `covered seconds at ${new Date(t).toISOString()}`);
    const expected = minuteRateDistribution(stored.filter((b) => b.minute >= t - horizonMs - MINUTE))!;
    const got = rates.distribution(t)!;
    assert.equal(got.minutes, expected.minutes, `minutes at ${new Date(t).toISOString()}`);
    for (const q of ['p50', 'p95', 'p99', 'peak'] as const) assert.ok(Math.abs(got[q] - expected[q]) <= 1e-6 * expected[q], `${q} at ${new Date(t).toISOString()}`);
    checked++;
  }
  assert.ok(checked > 50, `${checked} times checked`);
});

/** The distribution from scratch, as the incremental one rounds it: each counted rate to Float32, all of them sorted, simple-statistics' quantiles. */
function fromScratch(closed: ReadonlyArray<{ minute: number; seconds: number; bytes: number }>, open: { minute: number; seconds: number; bytes: number }, from: number) {
  const rates = closed.filter((b) => b.minute >= from && Math.fround(b.seconds) >= 30).map((b) => Math.fround(Math.fround(b.bytes) / Math.fround(b.seconds)));
  if (open.minute >= from && open.seconds >= 30) rates.push(Math.fround(open.bytes / open.seconds));
  if (rates.length === 0) return null;
  rates.sort((a, b) => a - b);
  return { p50: quantileSorted(rates, 0.5), p95: quantileSorted(rates, 0.95), p99: quantileSorted(rates, 0.99), peak: rates.at(-1)!, minutes: rates.length };
}

test('read every cycle, on whole-second clocks or late ones, across gaps, short minutes and new epochs: the same distribution to the bit as a sort of all the rates, sorting at most once a minute', () => {
  const horizonMs = 3600_000;
  const start = Date.UTC(2026, 10, 3);
  for (const lagMs of [0, 40, 9_990]) {
    const rates = new MinuteRates(horizonMs);
    const buckets: Bucket[] = [];
    let seed = 11;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const minutes = new Set<number>();
    let sorts = 0;
    const sort = Float32Array.prototype.sort;
    Float32Array.prototype.sort = function (this: Float32Array, ...args) {
      sorts++;
      return sort.apply(this, args);
    };
    try {
      for (let t = start + 10_000; t <= start + 6 * 3600_000; t += 10_000) {
        const sinceStart = t - start;
        // Away for 70 minutes in the third hour (everything expires at once when it is back); every
        // seventh minute sampled only twice (too short to count); a new epoch every 100 minutes.
        if (sinceStart >= 2 * 3600_000 && sinceStart < 2 * 3600_000 + 70 * MINUTE) continue;
        if (Math.floor(sinceStart / MINUTE) % 7 === 3 && sinceStart % MINUTE >= 20_000) continue;
        const epoch = 1 + Math.floor(sinceStart / (100 * MINUTE));
        const d = { seconds: 10, bytes: Math.round(100_000 * random()) + 0.5, writeSets: 3 };
        rates.add(t, epoch, d);
        addTo(buckets, t, epoch, d);
        minutes.add(buckets.at(-1)!.minute);
        const now = t + lagMs;
        rates.long(now);
        const got = rates.distribution(now);
        assert.deepEqual(got, fromScratch(buckets.slice(0, -1), buckets.at(-1)!, now - horizonMs - MINUTE), `lag ${lagMs} ms, at ${new Date(now).toISOString()}`);
      }
    } finally {
      Float32Array.prototype.sort = sort;
    }
    assert.ok(sorts <= minutes.size, `lag ${lagMs} ms: ${sorts} sorts over ${minutes.size} minutes`);
  }
});
