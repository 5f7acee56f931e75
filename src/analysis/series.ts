/**
 * A node's (or a cluster's) history as a series of points read by index, so that the analysis
 * runs the same over a plain array (tests, replays, from-scratch runs) and over the daemon's
 * compact columnar history (`ColumnSeries`). Pure: no I/O.
 */
import type { TimelinePoint } from './timeline.js';
import { SlidingColumns, type ColumnReader } from './sliding-columns.js';
import { MINUTE_MS } from '../units/time.js';

export interface SeriesPoint extends TimelinePoint {
  /** wsrep_local_cached_downto; null when the gcache is empty. */
  downto: number | null;
  /** Synced and in a Primary component: its seqno says when that seqno was committed. */
  synced: boolean;
}

/** Points oldest first, read by index. */
export interface PointSeries {
  readonly length: number;
  t(i: number): number;
  seqno(i: number): number;
  bytes(i: number): number;
  epoch(i: number): number;
  downto(i: number): number | null;
  synced(i: number): boolean;
  /**
   * Whether cached_downto moved forward within the newest epoch, when the series keeps track of
   * it (a thinned series may have dropped the points that showed it); undefined to scan.
   */
  readonly wrappedInLatestEpoch?: boolean;
}

export type SeriesLike = PointSeries | ReadonlyArray<TimelinePoint & { downto?: number | null; synced?: boolean }>;

/** A plain array read as a series; O(1), no copy. */
export function asSeries(points: SeriesLike): PointSeries {
  if (!Array.isArray(points)) return points as PointSeries;
  const a = points as ReadonlyArray<TimelinePoint & { downto?: number | null; synced?: boolean }>;
  return {
    length: a.length,
    t: (i) => a[i]!.t,
    seqno: (i) => a[i]!.seqno,
    bytes: (i) => a[i]!.bytes,
    epoch: (i) => a[i]!.epoch,
    downto: (i) => a[i]!.downto ?? null,
    synced: (i) => a[i]!.synced ?? true,
  };
}

/** The point at index i as an object (for the few places that hand one on). */
export function pointAt(s: PointSeries, i: number): SeriesPoint {
  return { t: s.t(i), seqno: s.seqno(i), bytes: s.bytes(i), epoch: s.epoch(i), downto: s.downto(i), synced: s.synced(i) };
}

/** Index of the first point with t > time, or length. */
export function firstAfter(s: PointSeries, time: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.t(mid) > time) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Index of the first point of the newest epoch (0 for an empty series). */
export function latestEpochStart(s: PointSeries): number {
  if (s.length === 0) return 0;
  const epoch = s.epoch(s.length - 1);
  let i = s.length - 1;
  while (i > 0 && s.epoch(i - 1) === epoch) i--;
  return i;
}

/** Column numbers in the table of a node's points; a timeline keeps only the first two. */
const T = 0;
const SEQNO = 1;
const BYTES = 2;
const DOWNTO = 3;
const EPOCH = 4;
const SYNCED = 5;

/**
 * A growable sliding window of points in typed-array columns (sliding-columns.ts): times, seqnos,
 * byte counters and cached_downto as 32-bit offsets while they fit, the counter epoch in 16 bits,
 * 19 bytes a point instead of an object each, plus about an eighth of free room (capacity.ts).
 * Appends at the end, trims at the front, and thins old points to the last one of each minute
 * (and epoch), so the memory a node costs follows the span of its gcache, not the length of the
 * history. Also tracks whether the ring wrapped within the newest epoch, which thinning would
 * otherwise hide.
 */
export class ColumnSeries implements PointSeries {
  private readonly rows: SlidingColumns;
  private readonly times: ColumnReader;
  private readonly seqnos: ColumnReader;
  /** The columns that a timeline does not keep: null there. */
  private readonly byteCounts: ColumnReader | null;
  private readonly downtos: ColumnReader | null;
  private readonly epochs: ColumnReader | null;
  private readonly synceds: ColumnReader | null;
  private epochFirstDownto: number | null = null;
  private wrapped = false;

  /**
   * @param timelineOnly keep only (time, seqno): a cluster's seqno timeline needs no more, and
   *   then costs 8 bytes a point; the other columns read as 0, null and Synced.
   */
  constructor(
    initialCapacity = 64,
    private readonly timelineOnly = false,
  ) {
    this.rows = new SlidingColumns(timelineOnly ? ['packed32', 'packed32'] : ['packed32', 'packed32', 'packed32', 'packed32', 'int16', 'uint8'], initialCapacity);
    this.times = this.rows.column(T);
    this.seqnos = this.rows.column(SEQNO);
    this.byteCounts = timelineOnly ? null : this.rows.column(BYTES);
    this.downtos = timelineOnly ? null : this.rows.column(DOWNTO);
    this.epochs = timelineOnly ? null : this.rows.column(EPOCH);
    this.synceds = timelineOnly ? null : this.rows.column(SYNCED);
  }

  get length(): number {
    return this.rows.length;
  }

  get wrappedInLatestEpoch(): boolean {
    return this.wrapped;
  }

  /** Bytes of memory the columns take. */
  get byteSize(): number {
    return this.rows.byteSize;
  }

  t(i: number): number {
    return this.times.at(i);
  }
  seqno(i: number): number {
    return this.seqnos.at(i);
  }
  bytes(i: number): number {
    return this.byteCounts === null ? 0 : this.byteCounts.at(i);
  }
  epoch(i: number): number {
    return this.epochs === null ? 0 : this.epochs.at(i);
  }
  downto(i: number): number | null {
    if (this.downtos === null) return null;
    const d = this.downtos.at(i);
    return Number.isNaN(d) ? null : d;
  }
  synced(i: number): boolean {
    return this.synceds === null || this.synceds.at(i) === 1;
  }

  /** Appends a point; points must come in time order. */
  push(p: SeriesPoint): void {
    const n = this.rows.length;
    if (n > 0 && p.epoch !== this.epoch(n - 1)) {
      this.epochFirstDownto = null;
      this.wrapped = false;
    }
    if (p.downto !== null) {
      if (this.epochFirstDownto === null) this.epochFirstDownto = p.downto;
      else if (p.downto > this.epochFirstDownto) this.wrapped = true;
    }
    if (this.timelineOnly) this.rows.push(p.t, p.seqno);
    else this.rows.push(p.t, p.seqno, p.bytes, p.downto ?? Number.NaN, p.epoch, p.synced ? 1 : 0);
  }

  /** Drops the oldest `n` points; gives memory back when the columns are left mostly empty. */
  dropFront(n: number): void {
    // A window that shrank (or a start that loaded more than the gcache holds) leaves room that
    // only the end of the columns would reclaim: the table reallocates to fit.
    this.rows.dropFront(n);
  }

  /**
   * Keeps, among the points before `before`, only the last of each minute and epoch (the newest
   * points stay at full resolution). Returns how many were dropped. O(points).
   */
  thinBefore(before: number): number {
    const n = this.rows.length;
    return this.rows.keepWhere((i) => {
      const t = this.t(i);
      if (t >= before || i + 1 >= n) return true;
      const next = this.t(i + 1);
      return next >= before || Math.floor(next / MINUTE_MS) !== Math.floor(t / MINUTE_MS) || this.epoch(i + 1) !== this.epoch(i);
    });
  }

  /**
   * Makes room for `capacity` points at once (a load that knows its size): one allocation per
   * column instead of a ladder of growing ones, whose freed steps the allocator keeps.
   */
  reserve(capacity: number): void {
    this.rows.reserve(capacity);
  }

  /** Gives back the room a trim or a load left unused, when it is well past the slack (see capacity.ts). */
  shrinkToFit(): void {
    this.rows.shrinkToFit();
  }
}
