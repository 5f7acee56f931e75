/**
 * Write rates: bytes/s of gcache fill and write-sets/s, over a horizon, and the distribution of
 * per-minute rates. Every rate is a sum of in-epoch deltas over a sum of their durations, so no
 * rate ever spans a counter epoch. Pure.
 */
import { quantileSorted, max } from 'simple-statistics';
import { asSeries, firstAfter, type SeriesLike } from './series.js';

export interface Rate {
  bytesPerSecond: number;
  writeSetsPerSecond: number;
  /** Seconds of history the rate is based on (less than the horizon when history is short). */
  coveredSeconds: number;
}

export interface Delta {
  seconds: number;
  bytes: number;
  writeSets: number;
}

export function rateOf(deltas: readonly Delta[]): Rate | null {
  let seconds = 0;
  let bytes = 0;
  let writeSets = 0;
  for (const d of deltas) {
    seconds += d.seconds;
    bytes += d.bytes;
    writeSets += d.writeSets;
  }
  if (seconds <= 0) return null;
  return { bytesPerSecond: bytes / seconds, writeSetsPerSecond: writeSets / seconds, coveredSeconds: seconds };
}

/**
 * rateOf(deltasOf(points, from, to)) without the deltas in between: the same sums, in the same
 * order, so the same figures; the analysis asks it of every node every cycle.
 */
export function rateBetween(points: SeriesLike, from: number, to: number): Rate | null {
  const s = asSeries(points);
  let seconds = 0;
  let bytes = 0;
  let writeSets = 0;
  for (let i = Math.max(1, firstAfter(s, from)); i < s.length; i++) {
    if (s.t(i) > to) break;
    if (s.epoch(i - 1) !== s.epoch(i)) continue;
    seconds += (s.t(i) - s.t(i - 1)) / 1000;
    bytes += s.bytes(i) - s.bytes(i - 1);
    writeSets += s.seqno(i) - s.seqno(i - 1);
  }
  if (seconds <= 0) return null;
  return { bytesPerSecond: bytes / seconds, writeSetsPerSecond: writeSets / seconds, coveredSeconds: seconds };
}

/** Sample-to-sample deltas within epochs, for points with t in (from, to]: O(log n + points in range). */
export function deltasOf(points: SeriesLike, from: number, to: number): Delta[] {
  const s = asSeries(points);
  const out: Delta[] = [];
  for (let i = Math.max(1, firstAfter(s, from)); i < s.length; i++) {
    if (s.t(i) > to) break;
    if (s.epoch(i - 1) !== s.epoch(i)) continue;
    out.push({ seconds: (s.t(i) - s.t(i - 1)) / 1000, bytes: s.bytes(i) - s.bytes(i - 1), writeSets: s.seqno(i) - s.seqno(i - 1) });
  }
  return out;
}

export interface RateDistribution {
  p50: number;
  p95: number;
  p99: number;
  peak: number;
  minutes: number;
}

/**
 * Quantiles of per-minute byte rates. Minutes covered for less than half their length (a node
 * that was down, the first minute of an epoch) would give noisy rates and are left out.
 */
export function minuteRateDistribution(minutes: ReadonlyArray<{ seconds: number; bytes: number }>): RateDistribution | null {
  const rates = minutes.filter((m) => m.seconds >= 30).map((m) => m.bytes / m.seconds);
  if (rates.length === 0) return null;
  rates.sort((a, b) => a - b);
  return {
    p50: quantileSorted(rates, 0.5),
    p95: quantileSorted(rates, 0.95),
    p99: quantileSorted(rates, 0.99),
    peak: max(rates),
    minutes: rates.length,
  };
}
