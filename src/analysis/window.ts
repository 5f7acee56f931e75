/**
 * The measured replication window: the age of the oldest write-set in a node's gcache, i.e.
 * now minus the time at which wsrep_last_committed reached wsrep_local_cached_downto. Because it
 * reads what the gcache really holds, it reflects the per-write-set overhead, restarts without
 * gcache.recover, SSTs and page-store purges with no model of any of them. Pure.
 */
import { bytesAtTime, timeAtSeqno, type TimelinePoint } from './timeline.js';
import { asSeries, latestEpochStart, pointAt, type PointSeries, type SeriesLike } from './series.js';

export interface NodePoint extends TimelinePoint {
  /** wsrep_local_cached_downto; null when the gcache is empty. */
  downto: number | null;
}

export type RingState =
  /** cached_downto advances as write-sets come in: the ring is full and evicts as it fills. */
  | 'full'
  /** cached_downto stays put while write-sets come in: the ring has free space (never wrapped yet, or refilling after a purge). */
  | 'filling'
  /** The gcache holds nothing (after an SST, or a restart without gcache.recover). */
  | 'empty'
  | 'unknown';

export interface MeasuredWindow {
  ring: RingState;
  oldestSeqno: number | null;
  /** When the oldest cached write-set was committed (ms), or the latest time it can have been. */
  oldestCommittedAt: number | null;
  /** now - oldestCommittedAt; a lower bound when `lowerBound` is true. */
  ageSeconds: number | null;
  /** True when the oldest seqno predates the stored history: the window is at least ageSeconds. */
  lowerBound: boolean;
  /** The window, once the ring has wrapped in this epoch; null before that (see ageSeconds and `ring`). */
  measuredSeconds: number | null;
  /** Counted bytes (replicated + received) the gcache holds between its oldest write-set and now. */
  contentBytes: number | null;
  summary: string;
}

/** Whether cached_downto moved forward within the newest epoch. */
export function ringHasWrapped(points: SeriesLike): boolean {
  const s = asSeries(points);
  if (s.wrappedInLatestEpoch !== undefined) return s.wrappedInLatestEpoch;
  let first: number | null = null;
  for (let i = latestEpochStart(s); i < s.length; i++) {
    const d = s.downto(i);
    if (d === null) continue;
    if (first === null) first = d;
    else if (d > first) return true;
  }
  return false;
}

/**
 * Whether the ring is evicting now: cached_downto moved in one of the last few sampling intervals
 * in which write-sets came in. Looking at a few, not one, because a full ring evicts in steps:
 * one large eviction can make room for several small write-sets.
 */
export function ringIsEvicting(points: SeriesLike, intervals = 3): boolean {
  const s = asSeries(points);
  const start = latestEpochStart(s);
  let seen = 0;
  for (let i = s.length - 1; i > start && seen < intervals; i--) {
    if (s.seqno(i) <= s.seqno(i - 1)) continue;
    seen++;
    const a = s.downto(i - 1);
    const b = s.downto(i);
    // A jump past everything cached at the previous sample is history being dropped (a purge),
    // not the steady eviction of a full ring.
    if (a !== null && b !== null && b > a && b <= s.seqno(i - 1)) return true;
  }
  return false;
}

/**
 * @param nodePoints the node's own samples, oldest first (for its ring state and bytes)
 * @param clusterSeqnoPoints Synced samples of every node of the cluster, merged by time (for when a seqno was committed)
 */
export function measureWindow(nodePoints: SeriesLike, clusterSeqnoPoints: SeriesLike, now: number): MeasuredWindow {
  const series = asSeries(nodePoints);
  const latest = series.length ? pointAt(series, series.length - 1) : undefined;
  const none = (ring: RingState, summary: string): MeasuredWindow => ({
    ring,
    oldestSeqno: null,
    oldestCommittedAt: null,
    ageSeconds: null,
    lowerBound: false,
    measuredSeconds: null,
    contentBytes: null,
    summary,
  });
  if (!latest) return none('unknown', 'no samples yet');
  if (latest.downto === null) return none('empty', 'gcache is empty (after an SST, or a restart without gcache.recover): this node cannot serve IST');

  const at = timeAtSeqno(clusterSeqnoPoints, latest.downto);
  if (!at) return none('unknown', 'no history yet');
  const oldestCommittedAt = at.kind === 'after' ? now : at.t;
  const ageSeconds = Math.max(0, (now - oldestCommittedAt) / 1000);
  const lowerBound = at.kind === 'before';
  const wrapped = ringHasWrapped(series);
  const ring: RingState = wrapped && ringIsEvicting(series) ? 'full' : 'filling';
  const fromBytes = bytesAtTime(series, oldestCommittedAt);
  const contentBytes = fromBytes === null ? null : latest.bytes - fromBytes;
  const since = new Date(oldestCommittedAt).toISOString();
  const summary = wrapped
    ? `oldest cached write-set (seqno ${latest.downto}) was committed ${lowerBound ? `at or before ${since}: the window is at least ${Math.round(ageSeconds)} s` : `at ${since}`}`
    : `gcache not yet full: holds everything since ${since} (seqno ${latest.downto})`;
  return {
    ring,
    oldestSeqno: latest.downto,
    oldestCommittedAt,
    ageSeconds,
    lowerBound,
    // A lower bound is not a measurement: the history does not reach back far enough yet.
    measuredSeconds: wrapped && !lowerBound ? ageSeconds : null,
    contentBytes,
    summary,
  };
}

export const HISTORY_DROP_KINDS = ['page_store_purge', 'gcache_reset'] as const;

export interface HistoryDrop {
  kind: (typeof HISTORY_DROP_KINDS)[number];
  fromSeqno: number | null;
  toSeqno: number | null;
  /** Counted bytes of history that vanished beyond what new write-sets pushed out. */
  droppedBytes: number | null;
  windowBeforeSeconds: number | null;
  windowAfterSeconds: number | null;
  reason: string;
}

/**
 * In a ring, a new write-set evicts about its own size of old history: over a sampling interval
 * the bytes the gcache holds stay level once it is full. When a page-store buffer (a write-set
 * bigger than gcache.size/2) is released, Galera discards all older history at once, and the
 * held bytes fall by far more than anything new explains. A drop of more than this share of
 * gcache.size in one interval is such a purge.
 */
export const PURGE_SHARE_OF_GCACHE = 0.25;

/**
 * Compares the newest sample with the one before it and reports history that vanished:
 * a page-store purge within an epoch, or a gcache reset (empty or jumped) at a new epoch.
 */
export function detectHistoryDrop(nodePoints: SeriesLike, clusterSeqnoPoints: SeriesLike, gcacheSizeBytes: number): HistoryDrop | null {
  const series: PointSeries = asSeries(nodePoints);
  if (series.length < 2) return null;
  const cur = pointAt(series, series.length - 1);
  const prev = pointAt(series, series.length - 2);
  if (prev.downto === null) return null;
  const windowAt = (p: NodePoint): number | null => {
    if (p.downto === null) return null;
    const at = timeAtSeqno(clusterSeqnoPoints, p.downto);
    return at && at.kind !== 'after' ? (p.t - at.t) / 1000 : null;
  };

  /** A reset: the history before `prev` is gone; `toSeqno` null when the gcache is empty now. */
  const reset = (toSeqno: number | null, reason: string): HistoryDrop => ({
    kind: 'gcache_reset',
    fromSeqno: prev.downto,
    toSeqno,
    droppedBytes: null,
    windowBeforeSeconds: windowAt(prev),
    windowAfterSeconds: toSeqno === null ? null : windowAt(cur),
    reason,
  });

  if (cur.epoch !== prev.epoch) {
    if (cur.downto === null) return reset(null, 'gcache is empty after the restart (gcache.recover off, or an SST)');
    // After a restart with gcache.recover the ring comes back as it was; a downto beyond the
    // last committed seqno before the restart means the history was not recovered.
    if (cur.downto > prev.seqno + 1) return reset(cur.downto, 'gcache history lost across the restart (not recovered, or replaced by an SST)');
    return null;
  }
  if (cur.downto === null) return reset(null, 'gcache emptied');
  if (cur.downto <= prev.downto) return null;

  // Held bytes before and after: bytes counted since the oldest cached write-set was committed.
  const held = (p: NodePoint): number | null => {
    const at = timeAtSeqno(clusterSeqnoPoints, p.downto!);
    if (!at || at.kind !== 'exact') return null;
    const from = bytesAtTime(series, at.t);
    return from === null ? null : p.bytes - from;
  };
  const before = held(prev);
  const after = held(cur);
  const dropped = before !== null && after !== null ? before - after : null;
  // The jump itself tells too: every write-set cached at the previous sample is gone, though less
  // than a ring's worth was written since. It decides alone, because the held bytes are
  // interpolated: when the big write-set came early in the interval, the bytes after it are
  // overstated, and a purge in a nearly full 8 MiB ring measured as a drop just under a quarter.
  const everythingGone = cur.downto > prev.seqno && cur.bytes - prev.bytes < gcacheSizeBytes;
  const purged = everythingGone || (dropped !== null && dropped > PURGE_SHARE_OF_GCACHE * gcacheSizeBytes);
  if (!purged) return null;
  return {
    kind: 'page_store_purge',
    fromSeqno: prev.downto,
    toSeqno: cur.downto,
    droppedBytes: dropped,
    windowBeforeSeconds: windowAt(prev),
    windowAfterSeconds: windowAt(cur),
    reason: `cached_downto jumped from ${prev.downto} to ${cur.downto}, dropping history far beyond what new write-sets evicted (a page-store buffer was released)`,
  };
}
