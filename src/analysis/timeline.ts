/**
 * A node's history as points (time, seqno, counted bytes), and the interpolations the window
 * and the IST budget are built on. Pure.
 *
 * `seqno` is wsrep_last_committed: a cluster-wide sequence, so any Synced node's history tells
 * when a seqno was committed. `bytes` is the node's own cumulative gcache fill
 * (replicated + received bytes); it resets with the node's counters, so bytes are only ever
 * compared within one epoch. Every lookup is a binary search: O(log n) per call.
 */
import { asSeries, firstAfter, latestEpochStart, type SeriesLike } from './series.js';

export interface TimelinePoint {
  t: number; // ms
  seqno: number;
  bytes: number;
  epoch: number;
}

/** Index of the first point with seqno >= target, or -1. Points are sorted by time; seqnos never decrease within a Synced history. */
function firstAtOrAbove(points: SeriesLike, seqno: number): number {
  const s = asSeries(points);
  let lo = 0;
  let hi = s.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (s.seqno(mid) >= seqno) {
      found = mid;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  return found;
}

export type SeqnoTime =
  | { kind: 'exact'; t: number }
  /** The seqno is older than the whole history: it was committed at or before `t`. */
  | { kind: 'before'; t: number }
  /** The seqno is beyond the newest point. */
  | { kind: 'after'; t: number };

/**
 * When wsrep_last_committed reached `seqno`, interpolated linearly between the two samples that
 * straddle it: exact to within one sampling interval.
 */
export function timeAtSeqno(points: SeriesLike, seqno: number): SeqnoTime | null {
  const s = asSeries(points);
  if (s.length === 0) return null;
  const i = firstAtOrAbove(s, seqno);
  if (i === -1) return { kind: 'after', t: s.t(s.length - 1) };
  const hitSeqno = s.seqno(i);
  if (i === 0) return hitSeqno === seqno ? { kind: 'exact', t: s.t(0) } : { kind: 'before', t: s.t(0) };
  const prevSeqno = s.seqno(i - 1);
  const span = hitSeqno - prevSeqno;
  const t = span <= 0 ? s.t(i) : s.t(i - 1) + ((seqno - prevSeqno) / span) * (s.t(i) - s.t(i - 1));
  return { kind: 'exact', t };
}

/** The node's cumulative counted bytes at time t, interpolated within the latest epoch; null outside it. */
export function bytesAtTime(points: SeriesLike, t: number): number | null {
  const s = asSeries(points);
  if (s.length === 0) return null;
  const start = latestEpochStart(s);
  const last = s.length - 1;
  if (t < s.t(start) || t > s.t(last)) return null;
  const b = Math.max(start, Math.min(last, lowerBoundByTime(s, t, start)));
  if (b === start) return s.bytes(start);
  const a = b - 1;
  const ta = s.t(a);
  const tb = s.t(b);
  return tb === ta ? s.bytes(b) : s.bytes(a) + ((t - ta) / (tb - ta)) * (s.bytes(b) - s.bytes(a));
}

/** Index of the first point at or after time t, searching from `from`. */
function lowerBoundByTime(s: ReturnType<typeof asSeries>, t: number, from: number): number {
  let lo = from;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.t(mid) >= t) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The points of the newest epoch: the only ones whose byte counters can be compared. */
export function latestEpoch<P extends TimelinePoint>(points: readonly P[]): readonly P[] {
  return points.slice(latestEpochStart(asSeries(points)));
}

export { firstAfter };
