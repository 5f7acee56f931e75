/**
 * A node's history as points (time, seqno, counted bytes), and the interpolations the window
 * and the IST budget are built on. Pure.
 *
 * `seqno` is wsrep_last_committed: a cluster-wide sequence, so any Synced node's history tells
 * when a seqno was committed. `bytes` is the node's own cumulative gcache fill
 * (replicated + received bytes); it resets with the node's counters, so bytes are only ever
 * compared within one epoch.
 */

export interface TimelinePoint {
  t: number; // ms
  seqno: number;
  bytes: number;
  epoch: number;
}

/** Index of the first point with seqno >= target, or -1. Points are sorted by time; seqnos never decrease within a Synced history. */
function firstAtOrAbove(points: readonly TimelinePoint[], seqno: number): number {
  let lo = 0;
  let hi = points.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]!.seqno >= seqno) {
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
export function timeAtSeqno(points: readonly TimelinePoint[], seqno: number): SeqnoTime | null {
  if (points.length === 0) return null;
  const i = firstAtOrAbove(points, seqno);
  if (i === -1) return { kind: 'after', t: points.at(-1)!.t };
  const hit = points[i]!;
  if (i === 0) return hit.seqno === seqno ? { kind: 'exact', t: hit.t } : { kind: 'before', t: hit.t };
  const prev = points[i - 1]!;
  const span = hit.seqno - prev.seqno;
  const t = span <= 0 ? hit.t : prev.t + ((seqno - prev.seqno) / span) * (hit.t - prev.t);
  return { kind: 'exact', t };
}

/** The node's cumulative counted bytes at time t, interpolated within the latest epoch; null outside it. */
export function bytesAtTime(points: readonly TimelinePoint[], t: number): number | null {
  const epochPoints = latestEpoch(points);
  if (epochPoints.length === 0) return null;
  const first = epochPoints[0]!;
  const last = epochPoints.at(-1)!;
  if (t < first.t || t > last.t) return null;
  for (let i = 1; i < epochPoints.length; i++) {
    const b = epochPoints[i]!;
    if (b.t >= t) {
      const a = epochPoints[i - 1]!;
      return b.t === a.t ? b.bytes : a.bytes + ((t - a.t) / (b.t - a.t)) * (b.bytes - a.bytes);
    }
  }
  return first.bytes;
}

/** The points of the newest epoch: the only ones whose byte counters can be compared. */
export function latestEpoch(points: readonly TimelinePoint[]): readonly TimelinePoint[] {
  if (points.length === 0) return points;
  const epoch = points.at(-1)!.epoch;
  let i = points.length - 1;
  while (i > 0 && points[i - 1]!.epoch === epoch) i--;
  return points.slice(i);
}
