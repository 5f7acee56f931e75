/**
 * The time forecast: how long the cluster will take to write B bytes from now, read off its own
 * write history rather than off one rate. Pure: no I/O; every function sees only the points at
 * or before its `now`, so a replay of the past cannot peek at the future.
 *
 * From each past start point s, the time the cluster took to write B bytes is a binary search in
 * the cumulative bytes. Past start points are not all alike: the load right before s says much
 * about the next minutes. So the forecast takes only the start points whose recent byte rate (over
 * a window a fifth of the horizon) was closest to the recent rate now, on a log scale, and, once
 * the history spans days, whose time of day (and later day of week) is close to now's, because
 * nightly batches and backups recur. Of their durations, the median is `likely` and the 5th
 * percentile is the raw `safe`. A backtest of the node's own recent start points (`calibrate`)
 * then says how often that raw figure was optimistic, and shrinks it where the load has changed
 * its nature.
 *
 * Cost: at most `maxCandidates` start points, a few binary searches each, whatever the length of
 * the history.
 */
import { quantileSorted } from 'simple-statistics';
import { cumAt, lastAtOrBefore, lastIndexAtMost, timeAtCum, type ByteSeries } from './write-history.js';

export interface ForecastOptions {
  /** Start points looked at, spread evenly over the history. */
  maxCandidates: number;
  /** How many of the most similar start points the distribution is taken from. */
  neighbours: number;
  /** The conditioning window as a share of the horizon. */
  conditioningShare: number;
  /** The shortest conditioning window; it is also never shorter than two sampling intervals. */
  minConditioningMs: number;
}

export const DEFAULT_FORECAST: ForecastOptions = { maxCandidates: 400, neighbours: 40, conditioningShare: 0.2, minConditioningMs: 4000 };

export interface TimeForecast {
  /** The median duration of the similar start points. */
  likelySeconds: number;
  /** Their 5th percentile, before calibration. */
  rawSafeSeconds: number;
  /** Start points the distribution came from. */
  neighbours: number;
  /** The window over which "the load now" was compared. */
  conditioningSeconds: number;
}

const DAY_MS = 86400_000;
const HOUR_MS = 3600_000;

/**
 * The forecast of how long writing `budgetBytes` takes from `now`; null when the history holds
 * no start point from which that many bytes were written (too short, or no writes).
 */
export function forecastTime(s: ByteSeries, now: number, budgetBytes: number, opts: ForecastOptions = DEFAULT_FORECAST): TimeForecast | null {
  const end = lastAtOrBefore(s, now);
  if (end < 1) return null;
  if (budgetBytes <= 0) return { likelySeconds: 0, rawSafeSeconds: 0, neighbours: 0, conditioningSeconds: 0 };
  const endCum = s.cum(end);
  // Start points from which B bytes were written by now: the resolved ones.
  const lastResolved = lastWithCumAtMost(s, endCum - budgetBytes, end);
  if (lastResolved < 0) return null;
  const stride = Math.max(1, Math.ceil((lastResolved + 1) / opts.maxCandidates));
  // Scratch columns reused from call to call: a forecast per node per cycle makes no garbage.
  const room = Math.ceil((lastResolved + 1) / stride) + 1;
  const starts = scratch.starts(room);
  const durations = scratch.durations(room);
  let count = 0;
  for (let i = lastResolved; i >= 0; i -= stride) {
    const reached = timeAtCum(s, s.cum(i) + budgetBytes, i, end);
    if (reached === null) continue;
    starts[count] = i;
    durations[count] = reached - s.t(i);
    count++;
  }
  if (count === 0) return null;
  const sorted = scratch.sorted(count);
  sorted.set(durations.subarray(0, count));
  sorted.subarray(0, count).sort();
  const reference = quantileOfSorted(sorted, count, 0.5);
  const windowMs = Math.max(opts.minConditioningMs, 2 * (s.t(end) - s.t(end - 1)), reference * opts.conditioningShare);
  const first = s.t(0);
  const tNow = s.t(end);
  const distanceOf = loadDistance(s, end, windowMs);
  const spanMs = tNow - first;
  const distances = scratch.distances(count);
  // Start points with a whole conditioning window before them, when there are enough of them.
  let withWindow = 0;
  for (let k = 0; k < count; k++) if (s.t(starts[k]!) - windowMs >= first) withWindow++;
  const needWindow = withWindow >= opts.neighbours;
  let kept = 0;
  for (let k = 0; k < count; k++) {
    const i = starts[k]!;
    const t = s.t(i);
    if (needWindow && t - windowMs < first) continue;
    let d = distanceOf(t, s.cum(i));
    if (spanMs >= 2 * DAY_MS) d += circularDistance(t % DAY_MS, tNow % DAY_MS, DAY_MS) / (4 * HOUR_MS);
    if (spanMs >= 14 * DAY_MS && Math.floor(t / DAY_MS) % 7 !== Math.floor(tNow / DAY_MS) % 7) d += 0.5;
    distances[kept] = d;
    durations[kept] = durations[k]!;
    kept++;
  }
  // The `neighbours` nearest: those within the distance of the k-th nearest (ties in start order).
  const k = Math.min(opts.neighbours, kept);
  sorted.set(distances.subarray(0, kept));
  const byDistance = sorted.subarray(0, kept).sort();
  const cutoff = byDistance[k - 1]!;
  let below = 0;
  for (let j = 0; j < kept; j++) if (distances[j]! < cutoff) below++;
  let tiesLeft = k - below;
  const chosen = scratch.chosen(k);
  let n = 0;
  for (let j = 0; j < kept && n < k; j++) {
    const d = distances[j]!;
    if (d < cutoff || (d === cutoff && tiesLeft-- > 0)) chosen[n++] = durations[j]!;
  }
  if (n === 0) return null;
  const ordered = chosen.subarray(0, n).sort();
  return {
    likelySeconds: quantileOfSorted(ordered, n, 0.5) / 1000,
    rawSafeSeconds: quantileOfSorted(ordered, n, 0.05) / 1000,
    neighbours: n,
    conditioningSeconds: windowMs / 1000,
  };
}

/** The same quantile as simple-statistics' quantileSorted, over the first `n` values of a typed array. */
function quantileOfSorted(values: Float64Array, n: number, p: number): number {
  const idx = n * p;
  if (idx % 1 !== 0) return values[Math.ceil(idx) - 1]!;
  if (n % 2 === 0) return (values[idx - 1]! + values[idx]!) / 2;
  return values[idx]!;
}

/** Growable scratch columns, one set for the process (the analysis runs on one thread, one forecast at a time). */
const scratch = (() => {
  const cols = { starts: new Int32Array(512), durations: new Float64Array(512), sorted: new Float64Array(512), distances: new Float64Array(512), chosen: new Float64Array(64) };
  const grow = <K extends keyof typeof cols>(key: K, n: number): (typeof cols)[K] => {
    if (cols[key].length < n) cols[key] = (key === 'starts' ? new Int32Array(n * 2) : new Float64Array(n * 2)) as (typeof cols)[K];
    return cols[key];
  };
  return {
    starts: (n: number) => grow('starts', n),
    durations: (n: number) => grow('durations', n),
    sorted: (n: number) => grow('sorted', n),
    distances: (n: number) => grow('distances', n),
    chosen: (n: number) => grow('chosen', n),
  };
})();

/** Index of the last point (up to `end`) whose cumulative bytes are at most `target`, or -1. */
function lastWithCumAtMost(s: ByteSeries, target: number, end: number): number {
  return lastIndexAtMost(end, (i) => s.cum(i), target);
}

/**
 * How unlike the load now the load before time t was: the distance, on a log scale, between the
 * byte rates over the `windowMs` before t and before the newest point (`end`). A floor of 1% of
 * the history's overall rate keeps near-idle rates from dominating.
 */
function loadDistance(s: ByteSeries, end: number, windowMs: number): (t: number, cumAtT: number) => number {
  const tNow = s.t(end);
  const rateNow = (s.cum(end) - cumAt(s, tNow - windowMs)) / windowMs;
  const floor = ((s.cum(end) - s.cum(0)) / Math.max(1, tNow - s.t(0))) * 0.01 + 1e-9;
  return (t, cumAtT) => Math.abs(Math.log(((cumAtT - cumAt(s, t - windowMs)) / windowMs + floor) / (rateNow + floor)));
}

function circularDistance(a: number, b: number, period: number): number {
  const d = Math.abs(a - b) % period;
  return Math.min(d, period - d);
}

export interface Calibration {
  /** The factor `safe` is multiplied by: the 5th percentile of realised/predicted, at most 1. */
  shrink: number;
  /** Share of the backtest's start points at which the published `safe` was not optimistic by more than 10%. */
  coverage: number | null;
  /** Start points replayed. */
  resolved: number;
  /** When the backtest ran. */
  at: number;
}

export const UNCALIBRATED: Calibration = { shrink: 1, coverage: null, resolved: 0, at: 0 };

/** Fewer replayed start points than this leave `safe` as it is. */
const MIN_RESOLVED = 20;

/**
 * The backtest: replays the forecast at `points` start points from which `budgetBytes` have been
 * written by now (the newest, spread over four horizons), each with the history up to it only, and compares the raw `safe` it
 * gave with what happened. `previous` is the calibration in force until now: the coverage is that
 * of `safe` as it was published, not as the new shrink would make it.
 */
export function calibrate(s: ByteSeries, now: number, budgetBytes: number, previous: Calibration, points = 120, opts: ForecastOptions = DEFAULT_FORECAST): Calibration {
  const end = lastAtOrBefore(s, now);
  if (end < 1 || budgetBytes <= 0) return { ...previous, at: now };
  const lastResolved = lastWithCumAtMost(s, s.cum(end) - budgetBytes, end);
  if (lastResolved < 1) return { ...previous, resolved: 0, at: now };
  // Consecutive start points share most of their future: spread the replayed ones over at least
  // four horizons (the newest resolved start point's), so that they are not one sample 120 times.
  const newest = timeAtCum(s, s.cum(lastResolved) + budgetBytes, lastResolved, end);
  const horizonMs = newest === null ? 0 : newest - s.t(lastResolved);
  const intervalMs = (s.t(end) - s.t(0)) / end;
  const step = Math.max(1, Math.round((4 * horizonMs) / (points * Math.max(1, intervalMs))));
  const ratios: number[] = [];
  for (let i = lastResolved; i >= 1 && ratios.length < points; i -= step) {
    const reached = timeAtCum(s, s.cum(i) + budgetBytes, i, end);
    if (reached === null) continue;
    const f = forecastTime(s, s.t(i), budgetBytes, opts);
    if (!f || !(f.rawSafeSeconds > 0) || !Number.isFinite(f.rawSafeSeconds)) continue;
    ratios.push((reached - s.t(i)) / 1000 / f.rawSafeSeconds);
  }
  if (ratios.length < MIN_RESOLVED) return { shrink: previous.shrink, coverage: previous.coverage, resolved: ratios.length, at: now };
  ratios.sort((a, b) => a - b);
  // Held: not optimistic by more than 10%, the tolerance the accuracy figures use.
  const held = ratios.filter((r) => r * 1.1 >= previous.shrink).length;
  return { shrink: Math.min(1, quantileSorted(ratios, 0.05)), coverage: held / ratios.length, resolved: ratios.length, at: now };
}

export interface WritesOver {
  /** Start points compared. */
  samples: number;
  /** Share of them from which the writes over the duration fitted in the budget. */
  fitShare: number;
  p50Bytes: number;
  p99Bytes: number;
}

/**
 * How much the cluster wrote over `durationMs` from comparable past start points (those whose
 * recent rate resembles now's, as in the forecast), against a byte budget. Null without a start
 * point a whole duration old.
 */
export function writesOver(s: ByteSeries, now: number, durationMs: number, budgetBytes: number, opts: ForecastOptions = DEFAULT_FORECAST): WritesOver | null {
  const end = lastAtOrBefore(s, now);
  if (end < 1) return null;
  const tNow = s.t(end);
  const lastStart = lastAtOrBefore(s, tNow - durationMs);
  if (lastStart < 0) return null;
  const windowMs = Math.max(opts.minConditioningMs, durationMs * opts.conditioningShare);
  const distanceOf = loadDistance(s, end, windowMs);
  const stride = Math.max(1, Math.ceil((lastStart + 1) / opts.maxCandidates));
  const scored: Array<{ d: number; bytes: number }> = [];
  for (let i = lastStart; i >= 0; i -= stride) {
    const t = s.t(i);
    scored.push({ d: distanceOf(t, s.cum(i)), bytes: cumAt(s, t + durationMs) - s.cum(i) });
  }
  // Comparable: the most similar quarter, and at least the forecast's neighbours.
  const take = Math.min(scored.length, Math.max(opts.neighbours, Math.ceil(scored.length / 4)));
  const bytes = scored
    .sort((a, b) => a.d - b.d)
    .slice(0, take)
    .map((x) => x.bytes)
    .sort((a, b) => a - b);
  return {
    samples: bytes.length,
    fitShare: bytes.filter((b) => b <= budgetBytes).length / bytes.length,
    p50Bytes: quantileSorted(bytes, 0.5),
    p99Bytes: quantileSorted(bytes, 0.99),
  };
}
