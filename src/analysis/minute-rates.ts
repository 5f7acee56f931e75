/**
 * A node's write rates kept up to date one sample at a time, so that a cycle's cost does not
 * depend on how much history there is:
 * - per-minute buckets (minute, epoch) over the long horizon, with running sums for the long rate
 *   and the bucket rates kept sorted for the quantiles (an insert and a removal per minute);
 * - per-day totals for the trend, whose daily rates are recomputed when a day closes.
 * The buckets are the same as the store's per-minute rollups, so the figures equal those that
 * `rateOf` and `minuteRateDistribution` compute from the rollups. Pure: no I/O.
 */
import { quantileSorted } from 'simple-statistics';
import type { Delta, Rate, RateDistribution } from './rates.js';
import { dailyRates, type DailyRate } from './trend.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86400_000;
/** Minutes with less data than this give noisy rates and stay out of the quantiles (as in minuteRateDistribution). */
const MIN_BUCKET_SECONDS = 30;

interface Bucket {
  minute: number;
  epoch: number;
  seconds: number;
  bytes: number;
  writeSets: number;
}

export class MinuteRates {
  /** Closed buckets, oldest first, in typed-array columns (a day of minutes is 40 kB, not 1,440 objects). */
  private readonly closed = new BucketColumns();
  private open: Bucket | null = null;
  private sumSeconds = 0;
  private sumBytes = 0;
  private sumWriteSets = 0;
  /** Rates of the closed buckets that count for the quantiles, ascending. */
  private sorted = new Float64Array(64);
  private sortedLength = 0;

  constructor(private readonly horizonMs: number) {}

  /** Adds one sample-to-sample delta, in the minute of the later sample. Deltas come in time order. */
  add(takenAt: number, epoch: number, d: Delta): void {
    const minute = Math.floor(takenAt / MINUTE_MS) * MINUTE_MS;
    if (this.open && (this.open.minute !== minute || this.open.epoch !== epoch)) this.close();
    this.open ??= { minute, epoch, seconds: 0, bytes: 0, writeSets: 0 };
    this.open.seconds += d.seconds;
    this.open.bytes += d.bytes;
    this.open.writeSets += d.writeSets;
  }

  /** Seeds a whole bucket (from the store's rollups at start); buckets come in time order. */
  seed(b: Bucket): void {
    if (this.open) this.close();
    this.open = { minute: b.minute, epoch: b.epoch, seconds: b.seconds, bytes: b.bytes, writeSets: b.writeSets };
  }

  /** The rate over the long horizon ending at `now`: the buckets whose minute ends after now - horizon. */
  long(now: number): Rate | null {
    this.expire(now);
    const from = now - this.horizonMs - MINUTE_MS; // a bucket counts when minute > from
    let seconds = this.sumSeconds;
    let bytes = this.sumBytes;
    let writeSets = this.sumWriteSets;
    // The oldest kept bucket may sit exactly on the boundary that the distribution keeps and the rate does not.
    if (this.closed.length > 0 && this.closed.minute(0) <= from) {
      seconds -= this.closed.seconds(0);
      bytes -= this.closed.bytes(0);
      writeSets -= this.closed.writeSets(0);
    }
    if (this.open && this.open.minute > from) {
      seconds += this.open.seconds;
      bytes += this.open.bytes;
      writeSets += this.open.writeSets;
    }
    if (seconds <= 0) return null;
    return { bytesPerSecond: bytes / seconds, writeSetsPerSecond: writeSets / seconds, coveredSeconds: seconds };
  }

  /** Quantiles of the per-minute rates of the buckets from now - horizon - 1 min on (the open one included). */
  distribution(now: number): RateDistribution | null {
    this.expire(now);
    const extra = this.open && this.open.seconds >= MIN_BUCKET_SECONDS && this.open.minute >= now - this.horizonMs - MINUTE_MS ? rateOfBucket(this.open) : null;
    if (extra !== null) this.insertSorted(extra);
    try {
      if (this.sortedLength === 0) return null;
      const rates = this.sorted.subarray(0, this.sortedLength) as unknown as number[];
      return {
        p50: quantileSorted(rates, 0.5),
        p95: quantileSorted(rates, 0.95),
        p99: quantileSorted(rates, 0.99),
        peak: rates[this.sortedLength - 1]!,
        minutes: this.sortedLength,
      };
    } finally {
      if (extra !== null) this.removeSorted(extra);
    }
  }

  /** Number of buckets held (closed and open). */
  get bucketCount(): number {
    return this.closed.length + (this.open ? 1 : 0);
  }

  /** Bytes of memory held. */
  get byteSize(): number {
    return this.closed.byteSize + this.sorted.byteLength;
  }

  private close(): void {
    const b = this.open!;
    this.open = null;
    this.closed.push(b);
    this.sumSeconds += b.seconds;
    this.sumBytes += b.bytes;
    this.sumWriteSets += b.writeSets;
    if (b.seconds >= MIN_BUCKET_SECONDS) this.insertSorted(rateOfBucket(b));
  }

  /** Drops the closed buckets older than the distribution's reach (minute < now - horizon - 1 min). */
  private expire(now: number): void {
    const keepFrom = now - this.horizonMs - MINUTE_MS;
    while (this.closed.length > 0 && this.closed.minute(0) < keepFrom) {
      const b = { minute: 0, epoch: 0, seconds: this.closed.seconds(0), bytes: this.closed.bytes(0), writeSets: this.closed.writeSets(0) };
      this.closed.shift();
      this.sumSeconds -= b.seconds;
      this.sumBytes -= b.bytes;
      this.sumWriteSets -= b.writeSets;
      if (b.seconds >= MIN_BUCKET_SECONDS) this.removeSorted(rateOfBucket(b));
    }
    // Running sums drift by rounding; when nothing is left they are exactly zero again.
    if (this.closed.length === 0) this.sumSeconds = this.sumBytes = this.sumWriteSets = 0;
  }

  private insertSorted(rate: number): void {
    if (this.sortedLength === this.sorted.length) {
      const grown = new Float64Array(this.sorted.length * 2);
      grown.set(this.sorted);
      this.sorted = grown;
    }
    const i = lowerBound(this.sorted, this.sortedLength, rate);
    this.sorted.copyWithin(i + 1, i, this.sortedLength);
    this.sorted[i] = rate;
    this.sortedLength++;
  }

  private removeSorted(rate: number): void {
    const i = lowerBound(this.sorted, this.sortedLength, rate);
    if (i >= this.sortedLength || this.sorted[i] !== rate) return;
    this.sorted.copyWithin(i, i + 1, this.sortedLength);
    this.sortedLength--;
  }
}

/** A queue of closed buckets in typed-array columns: push at the end, shift at the front. */
class BucketColumns {
  private minutes: Float64Array = new Float64Array(64);
  private secondsCol: Float64Array = new Float64Array(64);
  private bytesCol: Float64Array = new Float64Array(64);
  private writeSetsCol: Float64Array = new Float64Array(64);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }
  get byteSize(): number {
    return this.minutes.byteLength * 4;
  }
  minute(i: number): number {
    return this.minutes[this.head + i]!;
  }
  seconds(i: number): number {
    return this.secondsCol[this.head + i]!;
  }
  bytes(i: number): number {
    return this.bytesCol[this.head + i]!;
  }
  writeSets(i: number): number {
    return this.writeSetsCol[this.head + i]!;
  }

  push(b: Bucket): void {
    if (this.head + this.size === this.minutes.length) this.makeRoom();
    const j = this.head + this.size;
    this.minutes[j] = b.minute;
    this.secondsCol[j] = b.seconds;
    this.bytesCol[j] = b.bytes;
    this.writeSetsCol[j] = b.writeSets;
    this.size++;
  }

  shift(): void {
    this.head++;
    this.size--;
    if (this.size === 0) this.head = 0;
  }

  private makeRoom(): void {
    const capacity = this.size * 2 > this.minutes.length ? this.minutes.length * 2 : this.minutes.length;
    const move = (col: Float64Array): Float64Array => {
      if (capacity === col.length) {
        col.copyWithin(0, this.head, this.head + this.size);
        return col;
      }
      const grown = new Float64Array(capacity);
      grown.set(col.subarray(this.head, this.head + this.size));
      return grown;
    };
    this.minutes = move(this.minutes);
    this.secondsCol = move(this.secondsCol);
    this.bytesCol = move(this.bytesCol);
    this.writeSetsCol = move(this.writeSetsCol);
    this.head = 0;
  }
}

function rateOfBucket(b: Bucket): number {
  return b.bytes / b.seconds;
}

function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Bytes and seconds per UTC day over the trend's span. The daily rates are recomputed only when
 * a day closes: the trend is a regression over whole days, and a day in progress adds noise.
 */
export class DailyTotals {
  private readonly days = new Map<number, { seconds: number; bytes: number }>();
  private cachedFor: number | null = null;
  private cached: DailyRate[] = [];

  constructor(private readonly spanDays: number) {}

  add(takenAt: number, d: Pick<Delta, 'seconds' | 'bytes'>): void {
    const day = Math.floor(takenAt / DAY_MS) * DAY_MS;
    const acc = this.days.get(day);
    if (acc) {
      acc.seconds += d.seconds;
      acc.bytes += d.bytes;
    } else {
      this.days.set(day, { seconds: d.seconds, bytes: d.bytes });
    }
  }

  /** The daily rates of the closed days in the span (days with at least an hour of data). */
  rates(now: number): readonly DailyRate[] {
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    if (this.cachedFor === today) return this.cached;
    const oldest = today - this.spanDays * DAY_MS;
    for (const day of this.days.keys()) if (day < oldest) this.days.delete(day);
    this.cached = dailyRates([...this.days.entries()].filter(([day]) => day < today).map(([minute, v]) => ({ minute, ...v })));
    this.cachedFor = today;
    return this.cached;
  }
}
