/**
 * A cluster's cumulative counted bytes over time: how much its gcaches have taken in since the
 * history began. "How long did the cluster take to write B bytes from start point s" is then two
 * binary searches. Kept compact: 16 bytes a point, full resolution for the recent span, one point
 * a minute before it, and one every ten minutes past a day, back to the forecast's reach. Pure.
 */
import { SlidingColumns } from './sliding-columns.js';
import { DAY_MS, MINUTE_MS } from '../units/time.js';

/** Cumulative bytes by time, oldest first; `cum` never decreases. */
export interface ByteSeries {
  readonly length: number;
  t(i: number): number;
  cum(i: number): number;
}

/** A plain array of [t, cum] pairs read as a series (tests, replays). */
export function byteSeriesOf(points: ReadonlyArray<readonly [number, number]>): ByteSeries {
  return { length: points.length, t: (i) => points[i]![0], cum: (i) => points[i]![1] };
}

/** Index of the last point with t <= time, or -1. */
export function lastAtOrBefore(s: ByteSeries, time: number): number {
  return lastIndexAtMost(s.length - 1, (i) => s.t(i), time);
}

/** Index of the last of 0..hi whose non-decreasing `value` is at most `target`, or -1 (a binary search). */
export function lastIndexAtMost(hi: number, value: (i: number) => number, target: number): number {
  let lo = 0;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (value(mid) <= target) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Cumulative bytes at `time`, interpolated; clamped to the first and last points. */
export function cumAt(s: ByteSeries, time: number): number {
  const i = lastAtOrBefore(s, time);
  if (i < 0) return s.cum(0);
  if (i >= s.length - 1) return s.cum(s.length - 1);
  return cumBetween(s, i, time);
}

/** Cumulative bytes at `time`, interpolated between point i (at or before it) and point i + 1. */
export function cumBetween(s: ByteSeries, i: number, time: number): number {
  const span = s.t(i + 1) - s.t(i);
  return span <= 0 ? s.cum(i + 1) : s.cum(i) + ((time - s.t(i)) / span) * (s.cum(i + 1) - s.cum(i));
}

/**
 * When the cumulative bytes first reached `target`, searching points `from`..`to` (inclusive),
 * interpolated; null when they never did within them.
 */
export function timeAtCum(s: ByteSeries, target: number, from: number, to: number): number | null {
  if (to < from || s.cum(to) < target) return null;
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.cum(mid) >= target) hi = mid;
    else lo = mid + 1;
  }
  if (lo === from) return s.t(from);
  const a = lo - 1;
  const rise = s.cum(lo) - s.cum(a);
  return rise <= 0 ? s.t(lo) : s.t(a) + ((target - s.cum(a)) / rise) * (s.t(lo) - s.t(a));
}

/** Column numbers in the table of points. */
const T = 0;
const CUM = 1;

/**
 * The daemon's write history of one cluster, in sliding typed-array columns (sliding-columns.ts).
 * Appends at the end, drops points older than its reach, and thins old points (once a minute): a
 * day at 10 s sampling with an hour at full resolution is about 1,800 points, 14 kB while the
 * bytes written over the reach fit in 32 bits, 18 kB when they need 48.
 */
export class WriteHistory implements ByteSeries {
  private readonly rows = new SlidingColumns(['packed32', 'packed32']);
  private readonly times = this.rows.column(T);
  private readonly cums = this.rows.column(CUM);
  private lastThinned = 0;
  /**
   * Bytes written since the history began, unrounded (a cycle's bytes are a rate × an interval).
   * The points hold it rounded to whole bytes, within half a byte of it and never drifting from
   * it, so that the column stays integers: 32 bits, or 48 past 4 GiB, rather than doubles.
   */
  private total = 0;

  constructor(
    /** How far back the history reaches. */
    private readonly reachMs: number,
    /** Points newer than this stay at full resolution. */
    private readonly fullResolutionMs: number,
  ) {}

  get length(): number {
    return this.rows.length;
  }
  t(i: number): number {
    return this.times.at(i);
  }
  cum(i: number): number {
    return this.cums.at(i);
  }
  /** Bytes of memory the columns take. */
  get byteSize(): number {
    return this.rows.byteSize;
  }

  /** Adds `bytes` written up to `t` (points in time order; a point not after the last one is merged into it). */
  add(t: number, bytes: number): void {
    if (this.append(t, bytes)) this.trim(t, false);
  }

  /** Appends without trimming; false when the point merged into the last one. */
  private append(t: number, bytes: number): boolean {
    const last = this.rows.length - 1;
    this.total += Math.max(0, bytes);
    const cum = Math.round(this.total);
    if (last >= 0 && t <= this.t(last)) {
      this.rows.set(CUM, last, cum);
      return false;
    }
    this.rows.push(t, cum);
    return true;
  }

  /**
   * Loads points (time, bytes written up to it) in time order at once, thinned once at the end: a
   * start-up seed, with room for all of them made at once.
   */
  load(points: ReadonlyArray<readonly [number, number]>): void {
    this.rows.reserve(this.rows.length + points.length + 64);
    for (const [t, bytes] of points) this.append(t, bytes);
    if (this.rows.length > 0) this.trim(this.t(this.rows.length - 1), true);
  }

  private trim(now: number, thinNow: boolean): void {
    let drop = 0;
    while (drop < this.rows.length - 2 && this.t(drop + 1) <= now - this.reachMs) drop++;
    if (drop > 0) this.rows.dropFront(drop);
    if (!thinNow && now - this.lastThinned < MINUTE_MS) return;
    this.lastThinned = now;
    this.thin(now - this.fullResolutionMs, MINUTE_MS);
    this.thin(now - DAY_MS, 10 * MINUTE_MS);
  }

  /** Keeps, of the points before `before`, the last of each `bucketMs`. */
  private thin(before: number, bucketMs: number): void {
    const n = this.rows.length;
    this.rows.keepWhere((i) => {
      const t = this.t(i);
      if (t >= before || i + 1 >= n) return true;
      const next = this.t(i + 1);
      return next >= before || Math.floor(next / bucketMs) !== Math.floor(t / bucketMs);
    });
  }
}
