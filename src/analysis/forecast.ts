/**
 * The time forecast: how long the cluster will take to write B bytes from now, read off its own
 * write history rather than off one rate. Pure: no I/O; every function sees only the points at
 * or before its `now`, so a replay of the past cannot peek at the future.
 *
 * From each past start point s, the time the cluster took to write B bytes is a binary search in
 * the cumulative bytes. Past start points are not all alike: the load right before s says much
 * about the next minutes. So the forecast takes only the start points whose load resembled now's,
 * on a log scale, over two windows: the last few seconds (a twentieth of the horizon, at least two
 * sampling intervals: the phase the load is in) and the last fifth of the horizon (what came
 * before it, which tells a lull between bursts from a quiet spell); and, once the history spans
 * days, whose time of day (and later day of week) is close to now's, because nightly batches and
 * backups recur. Each of their durations is then rescaled by how much faster or slower the load
 * ran right before it than it runs now, so that a start point a little busier than now does not
 * pass for a shorter horizon. Of these durations, the median is `likely` and the 5th percentile
 * is the raw `safe`. A backtest of the node's own past start points (`calibrate`) then says how
 * often that raw figure was optimistic, and shrinks it where the load has changed its nature.
 *
 * Cost: at most `maxCandidates` start points, a few binary searches each, whatever the length of
 * the history.
 */
import { quantileSorted } from 'simple-statistics';
import { cumAt, cumBetween, lastAtOrBefore, lastIndexAtMost, timeAtCum, type ByteSeries } from './write-history.js';
import { DAY_MS, HOUR_MS } from '../units/time.js';

export interface ForecastOptions {
  /** Start points looked at, spread evenly over the history. */
  maxCandidates: number;
  /** How many of the most similar start points the distribution is taken from. */
  neighbours: number;
  /** The window of "the load right now", as a share of the horizon: matched, and rescales the durations. */
  recentShare: number;
  /** The conditioning window, as a share of the horizon: the load over the last while, matched too. */
  conditioningShare: number;
  /** How much a difference over the conditioning window counts against one over the recent window. */
  conditioningWeight: number;
  /** The shortest window of either; it is also never shorter than two sampling intervals. */
  minConditioningMs: number;
}

export const DEFAULT_FORECAST: ForecastOptions = {
  maxCandidates: 400,
  neighbours: 40,
  recentShare: 0.05,
  conditioningShare: 0.2,
  conditioningWeight: 2,
  minConditioningMs: 4000,
};

export interface TimeForecast {
  /** The median duration of the similar start points, each rescaled to the load now. */
  likelySeconds: number;
  /** Their 5th percentile, before calibration. */
  rawSafeSeconds: number;
  /** Start points the distribution came from. */
  neighbours: number;
  /** The longer window over which "the load now" was compared. */
  conditioningSeconds: number;
  /** The shorter one: the load right now, whose rate rescaled the durations. */
  recentSeconds: number;
}

/**
 * The forecast of how long writing `budgetBytes` takes from `now`; null when the history holds
 * no start point from which that many bytes were written (too short, or no writes).
 */
export function forecastTime(s: ByteSeries, now: number, budgetBytes: number, opts: ForecastOptions = DEFAULT_FORECAST): TimeForecast | null {
  const end = lastAtOrBefore(s, now);
  if (end < 1) return null;
  if (budgetBytes <= 0) return { likelySeconds: 0, rawSafeSeconds: 0, neighbours: 0, conditioningSeconds: 0, recentSeconds: 0 };
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
  const shortestMs = Math.max(opts.minConditioningMs, 2 * (s.t(end) - s.t(end - 1)));
  const windowMs = Math.max(shortestMs, reference * opts.conditioningShare);
  const recentMs = Math.max(shortestMs, reference * opts.recentShare);
  const first = s.t(0);
  const tNow = s.t(end);
  const conditioningRatio = rateRatio(s, end, windowMs);
  const recentRatio = rateRatio(s, end, recentMs);
  const spanMs = tNow - first;
  const distances = scratch.distances(count);
  const speeds = scratch.speeds(count);
  // Start points with a whole recent window before them, when there are enough of them (the
  // longer window may be cut short by the start of the history: its rate is then over what it holds).
  let withWindow = 0;
  for (let k = 0; k < count; k++) if (s.t(starts[k]!) - recentMs >= first) withWindow++;
  const needWindow = withWindow >= opts.neighbours;
  let kept = 0;
  for (let k = 0; k < count; k++) {
    const i = starts[k]!;
    const t = s.t(i);
    if (needWindow && t - recentMs < first) continue;
    const speed = recentRatio(i);
    let d = Math.abs(Math.log(speed)) + opts.conditioningWeight * Math.abs(Math.log(conditioningRatio(i)));
    if (spanMs >= 2 * DAY_MS) d += circularDistance(t % DAY_MS, tNow % DAY_MS, DAY_MS) / (4 * HOUR_MS);
    if (spanMs >= 14 * DAY_MS && Math.floor(t / DAY_MS) % 7 !== Math.floor(tNow / DAY_MS) % 7) d += 0.5;
    distances[kept] = d;
    speeds[kept] = speed;
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
    // A start point whose load ran x times faster than now's wrote B about x times sooner than
    // now's load will, for as long as the load holds: its duration, rescaled to now's load.
    if (d < cutoff || (d === cutoff && tiesLeft-- > 0)) chosen[n++] = durations[j]! * speeds[j]!;
  }
  if (n === 0) return null;
  const ordered = chosen.subarray(0, n).sort();
  return {
    likelySeconds: quantileOfSorted(ordered, n, 0.5) / 1000,
    rawSafeSeconds: quantileOfSorted(ordered, n, 0.05) / 1000,
    neighbours: n,
    conditioningSeconds: windowMs / 1000,
    recentSeconds: recentMs / 1000,
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
  const cols = {
    starts: new Int32Array(512),
    durations: new Float64Array(512),
    sorted: new Float64Array(512),
    distances: new Float64Array(512),
    speeds: new Float64Array(512),
    chosen: new Float64Array(64),
  };
  const grow = <K extends keyof typeof cols>(key: K, n: number): (typeof cols)[K] => {
    if (cols[key].length < n) cols[key] = (key === 'starts' ? new Int32Array(n * 2) : new Float64Array(n * 2)) as (typeof cols)[K];
    return cols[key];
  };
  return {
    starts: (n: number) => grow('starts', n),
    durations: (n: number) => grow('durations', n),
    sorted: (n: number) => grow('sorted', n),
    distances: (n: number) => grow('distances', n),
    speeds: (n: number) => grow('speeds', n),
    chosen: (n: number) => grow('chosen', n),
  };
})();

/** Index of the last point (up to `end`) whose cumulative bytes are at most `target`, or -1. */
function lastWithCumAtMost(s: ByteSeries, target: number, end: number): number {
  return lastIndexAtMost(end, (i) => s.cum(i), target);
}

/**
 * How the load before point i compares with the load now: the ratio of the byte rates over the
 * `windowMs` before point i (or as much of it as the history holds) and before the newest point
 * (`end`); its log is the distance between them. A floor of 1% of the history's overall rate
 * keeps near-idle rates from dominating.
 */
function rateRatio(s: ByteSeries, end: number, windowMs: number): (i: number) => number {
  const first = s.t(0);
  const tNow = s.t(end);
  const rateNow = (s.cum(end) - cumAt(s, tNow - windowMs)) / windowMs;
  const floor = ((s.cum(end) - s.cum(0)) / Math.max(1, tNow - first)) * 0.01 + 1e-9;
  return (i) => {
    const t = s.t(i);
    const spanMs = Math.min(windowMs, t - first);
    const rate = spanMs > 0 ? (s.cum(i) - cumBefore(s, i, t - spanMs)) / spanMs : rateNow;
    return (rate + floor) / (rateNow + floor);
  };
}

/**
 * Cumulative bytes at `time`, interpolated, for a time at or before point i and not before the
 * first point: as `cumAt`, but searched back from i (a window spans a few points, not the history).
 */
function cumBefore(s: ByteSeries, i: number, time: number): number {
  // Gallop back from i to a point at or before `time`, then search between the last two steps.
  let hi = i;
  let step = 1;
  let lo = Math.max(0, i - step);
  while (lo > 0 && s.t(lo) > time) {
    hi = lo;
    step *= 2;
    lo = Math.max(0, i - step);
  }
  const j = lo + lastIndexAtMost(hi - lo, (k) => s.t(lo + k), time);
  return j >= i ? s.cum(i) : cumBetween(s, j, time);
}

function circularDistance(a: number, b: number, period: number): number {
  const d = Math.abs(a - b) % period;
  return Math.min(d, period - d);
}

export interface Calibration {
  /**
   * The factor `safe` is multiplied by: the largest (at most 1) at which no more than 5% of the
   * backtest's start points would have been optimistic by more than 5%.
   */
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
/** How far back the backtest reaches, in horizons (the history permitting). */
const BACKTEST_HORIZONS = 30;
/**
 * The backtest counts a start point as a miss when `safe` was optimistic by more than this: half
 * the tolerance the accuracy figures allow (10%), the other half left as margin for a future
 * that the past does not quite repeat.
 */
const MISS_TOLERANCE = 0.05;

/**
 * The backtest: replays the forecast at `points` start points from which `budgetBytes` have been
 * written by now, spread over the last 30 horizons (or the whole history, when shorter), each
 * with the history up to it only, and compares the raw `safe` it gave with what happened.
 * `previous` is the calibration in force until now: the coverage is that of `safe` as it was
 * published, not as the new shrink would make it.
 */
export function calibrate(s: ByteSeries, now: number, budgetBytes: number, previous: Calibration, points = 120, opts: ForecastOptions = DEFAULT_FORECAST): Calibration {
  const steps = calibration(s, now, budgetBytes, previous, points, opts);
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/**
 * The same backtest, one replayed forecast per step: a daemon can share the event loop between
 * steps (a backtest is 120 forecasts). The series must not change until the last step.
 */
export function* calibration(
  s: ByteSeries,
  now: number,
  budgetBytes: number,
  previous: Calibration,
  points = 120,
  opts: ForecastOptions = DEFAULT_FORECAST,
): Generator<void, Calibration, void> {
  const end = lastAtOrBefore(s, now);
  if (end < 1 || budgetBytes <= 0) return { ...previous, at: now };
  const lastResolved = lastWithCumAtMost(s, s.cum(end) - budgetBytes, end);
  if (lastResolved < 1) return { ...previous, resolved: 0, at: now };
  // Consecutive start points share most of their future: spread the replayed ones over many
  // horizons (the newest resolved start point's), so that they are not a few samples 120 times
  // over, and 5% of them is not one unlucky minute.
  const newest = timeAtCum(s, s.cum(lastResolved) + budgetBytes, lastResolved, end);
  const horizonMs = newest === null ? 0 : newest - s.t(lastResolved);
  const intervalMs = (s.t(end) - s.t(0)) / end;
  const reachMs = Math.min(BACKTEST_HORIZONS * horizonMs, s.t(lastResolved) - s.t(0));
  const step = Math.max(1, Math.round(reachMs / (points * Math.max(1, intervalMs))));
  const ratios: number[] = [];
  for (let i = lastResolved; i >= 1 && ratios.length < points; i -= step) {
    const reached = timeAtCum(s, s.cum(i) + budgetBytes, i, end);
    if (reached === null) continue;
    const f = forecastTime(s, s.t(i), budgetBytes, opts);
    yield;
    if (!f || !(f.rawSafeSeconds > 0) || !Number.isFinite(f.rawSafeSeconds)) continue;
    ratios.push((reached - s.t(i)) / 1000 / f.rawSafeSeconds);
  }
  if (ratios.length < MIN_RESOLVED) return { shrink: previous.shrink, coverage: previous.coverage, resolved: ratios.length, at: now };
  ratios.sort((a, b) => a - b);
  // Held: not optimistic by more than 10%, the tolerance the accuracy figures use.
  const held = ratios.filter((r) => r * 1.1 >= previous.shrink).length;
  const shrink = Math.min(1, (1 + MISS_TOLERANCE) * quantileSorted(ratios, 0.05));
  return { shrink, coverage: held / ratios.length, resolved: ratios.length, at: now };
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
  const ratioOf = rateRatio(s, end, windowMs);
  const stride = Math.max(1, Math.ceil((lastStart + 1) / opts.maxCandidates));
  const scored: Array<{ d: number; bytes: number }> = [];
  for (let i = lastStart; i >= 0; i -= stride) {
    const t = s.t(i);
    scored.push({ d: Math.abs(Math.log(ratioOf(i))), bytes: cumAt(s, t + durationMs) - s.cum(i) });
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
