/**
 * A node's (or a cluster's) history as a series of points read by index, so that the analysis
 * runs the same over a plain array (tests, replays, from-scratch runs) and over the daemon's
 * compact columnar history (`ColumnSeries`). Pure: no I/O.
 */
import type { TimelinePoint } from './timeline.js';
import { capacityFor } from './capacity.js';

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

const NO_DOWNTO = -1;
const MINUTE_MS = 60_000;

/**
 * A growable sliding window of points in typed-array columns: 37 bytes a point instead of an
 * object each, plus about an eighth of free room (capacity.ts).
 * Appends at the end, trims at the front, and thins old points to the last one of each minute
 * (and epoch), so the memory a node costs follows the span of its gcache, not the length of the
 * history. Also tracks whether the ring wrapped within the newest epoch, which thinning would
 * otherwise hide.
 */
export class ColumnSeries implements PointSeries {
  private ts: Float64Array;
  private seqnos: Float64Array;
  private bytesCol: Float64Array;
  private downtos: Float64Array;
  private epochs: Int32Array;
  private syncedCol: Uint8Array;
  private head = 0;
  private size = 0;
  private epochFirstDownto: number | null = null;
  private wrapped = false;

  /**
   * @param timelineOnly keep only (time, seqno): a cluster's seqno timeline needs no more, and
   *   then costs 16 bytes a point; the other columns read as 0, null and Synced.
   */
  constructor(
    initialCapacity = 64,
    private readonly timelineOnly = false,
  ) {
    const rest = timelineOnly ? 0 : initialCapacity;
    this.ts = new Float64Array(initialCapacity);
    this.seqnos = new Float64Array(initialCapacity);
    this.bytesCol = new Float64Array(rest);
    this.downtos = new Float64Array(rest);
    this.epochs = new Int32Array(rest);
    this.syncedCol = new Uint8Array(rest);
  }

  get length(): number {
    return this.size;
  }

  get wrappedInLatestEpoch(): boolean {
    return this.wrapped;
  }

  /** Bytes of memory the columns take. */
  get byteSize(): number {
    return this.ts.length * (this.timelineOnly ? 16 : 8 * 4 + 4 + 1);
  }

  t(i: number): number {
    return this.ts[this.head + i]!;
  }
  seqno(i: number): number {
    return this.seqnos[this.head + i]!;
  }
  bytes(i: number): number {
    return this.timelineOnly ? 0 : this.bytesCol[this.head + i]!;
  }
  epoch(i: number): number {
    return this.timelineOnly ? 0 : this.epochs[this.head + i]!;
  }
  downto(i: number): number | null {
    if (this.timelineOnly) return null;
    const d = this.downtos[this.head + i]!;
    return d === NO_DOWNTO ? null : d;
  }
  synced(i: number): boolean {
    return this.timelineOnly || this.syncedCol[this.head + i] === 1;
  }

  /** Appends a point; points must come in time order. */
  push(p: SeriesPoint): void {
    if (this.size > 0 && p.epoch !== this.epoch(this.size - 1)) {
      this.epochFirstDownto = null;
      this.wrapped = false;
    }
    if (p.downto !== null) {
      if (this.epochFirstDownto === null) this.epochFirstDownto = p.downto;
      else if (p.downto > this.epochFirstDownto) this.wrapped = true;
    }
    if (this.head + this.size === this.ts.length) this.makeRoom();
    const j = this.head + this.size;
    this.ts[j] = p.t;
    this.seqnos[j] = p.seqno;
    this.size++;
    if (this.timelineOnly) return;
    this.bytesCol[j] = p.bytes;
    this.downtos[j] = p.downto ?? NO_DOWNTO;
    this.epochs[j] = p.epoch;
    this.syncedCol[j] = p.synced ? 1 : 0;
  }

  /** Drops the oldest `n` points; gives memory back when the columns are left mostly empty. */
  dropFront(n: number): void {
    const k = Math.min(n, this.size);
    this.head += k;
    this.size -= k;
    if (this.size === 0) this.head = 0;
    // A window that shrank (or a start that loaded more than the gcache holds) leaves room that
    // only the end of the columns would reclaim: reallocate to fit now.
    this.shrinkToFit();
  }

  /**
   * Keeps, among the points before `before`, only the last of each minute and epoch (the newest
   * points stay at full resolution). Returns how many were dropped. O(points).
   */
  thinBefore(before: number): number {
    let write = this.head;
    const end = this.head + this.size;
    let dropped = 0;
    for (let read = this.head; read < end; read++) {
      const t = this.ts[read]!;
      const next = read + 1 < end ? read + 1 : -1;
      const old = t < before;
      const sameBucketAsNext =
        next !== -1 && this.ts[next]! < before && Math.floor(this.ts[next]! / MINUTE_MS) === Math.floor(t / MINUTE_MS) && this.epochs[next] === this.epochs[read];
      if (old && sameBucketAsNext) {
        dropped++;
        continue;
      }
      if (write !== read) this.copy(read, write);
      write++;
    }
    this.size -= dropped;
    this.shrinkToFit();
    return dropped;
  }

  private copy(from: number, to: number): void {
    this.ts[to] = this.ts[from]!;
    this.seqnos[to] = this.seqnos[from]!;
    if (this.timelineOnly) return;
    this.bytesCol[to] = this.bytesCol[from]!;
    this.downtos[to] = this.downtos[from]!;
    this.epochs[to] = this.epochs[from]!;
    this.syncedCol[to] = this.syncedCol[from]!;
  }

  /**
   * Makes room for `capacity` points at once (a load that knows its size): one allocation per
   * column instead of a ladder of growing ones, whose freed steps the allocator keeps.
   */
  reserve(capacity: number): void {
    if (capacity > this.ts.length) this.makeRoom(Math.ceil(capacity));
  }

  /** Gives back the room a trim or a load left unused, when it is well past the slack (see capacity.ts). */
  shrinkToFit(): void {
    const capacity = capacityFor(this.size, this.ts.length);
    if (capacity < this.ts.length) this.makeRoom(capacity);
  }

  /** Moves the live points to the front, into columns of `reserve` points or of what capacity.ts says. */
  private makeRoom(reserve = 0): void {
    const capacity = reserve > 0 ? reserve : capacityFor(this.size, this.ts.length);
    const move = <T extends Float64Array | Int32Array | Uint8Array>(col: T, make: (n: number) => T): T => {
      const target = capacity === col.length ? col : make(capacity);
      if (target === col) col.copyWithin(0, this.head, this.head + this.size);
      else target.set(col.subarray(this.head, this.head + this.size));
      return target;
    };
    this.ts = move(this.ts, (n) => new Float64Array(n));
    this.seqnos = move(this.seqnos, (n) => new Float64Array(n));
    if (this.timelineOnly) {
      this.head = 0;
      return;
    }
    this.bytesCol = move(this.bytesCol, (n) => new Float64Array(n));
    this.downtos = move(this.downtos, (n) => new Float64Array(n));
    this.epochs = move(this.epochs, (n) => new Int32Array(n));
    this.syncedCol = move(this.syncedCol, (n) => new Uint8Array(n));
    this.head = 0;
  }
}
