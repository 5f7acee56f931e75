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
  /** Closed buckets, oldest first, in typed-array columns (a day of minutes is 23 kB, not 1,440 objects). */
  private readonly closed = new BucketColumns();
  private open: Bucket | null = null;
  private sumSeconds = 0;
  private sumBytes = 0;
  private sumWriteSets = 0;
  /**
   * Rates of the closed buckets that count for the quantiles, ascending. Float32: a rate to seven
   * significant digits is more than any quantile of them can mean, and a day of them is 6 kB.
   */
  private sorted = new Float32Array(64);
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

  /** Room for `buckets` closed buckets, allocated at once (before seeding that many). */
  reserve(buckets: number): void {
    // What the horizon holds at steady state (its minutes, the boundary one, and the open one's
    // rate taken in for a moment by `distribution`), so that a day of buckets never grows by half.
    const capacity = Math.max(buckets, Math.ceil(this.horizonMs / MINUTE_MS) + 4);
    this.closed.reserve(capacity);
    if (capacity > this.sorted.length) {
      const grown = new Float32Array(capacity);
      grown.set(this.sorted.subarray(0, this.sortedLength));
      this.sorted = grown;
    }
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
    const extraRate = this.open && this.open.seconds >= MIN_BUCKET_SECONDS && this.open.minute >= now - this.horizonMs - MINUTE_MS ? rateOfBucket(this.open) : null;
    // Rounded like the stored rates, so that it is found again when it is taken out.
    const extra = extraRate === null ? null : Math.fround(extraRate);
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
    const b = this.closed.push(this.open!);
    this.open = null;
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
      const grown = new Float32Array(Math.ceil(this.sorted.length * 1.5));
      grown.set(this.sorted);
      this.sorted = grown;
    }
    const r = Math.fround(rate);
    const i = lowerBound(this.sorted, this.sortedLength, r);
    this.sorted.copyWithin(i + 1, i, this.sortedLength);
    this.sorted[i] = r;
    this.sortedLength++;
  }

  private removeSorted(rate: number): void {
    const r = Math.fround(rate);
    const i = lowerBound(this.sorted, this.sortedLength, r);
    if (i >= this.sortedLength || this.sorted[i] !== r) return;
    this.sorted.copyWithin(i, i + 1, this.sortedLength);
    this.sortedLength--;
  }
}

/**
 * A queue of closed buckets in typed-array columns (push at the end, shift at the front), kept
 * as a ring: a queue that holds a horizon's worth of buckets, one in and one out a minute, never
 * grows past it. 16 bytes a bucket: the minute as a minute number (32 bits last until the year
 * 10,000); a bucket's seconds, bytes and write-sets as Float32, exact to seven digits, which is
 * what a rate over them can mean. The running sums over them are kept in doubles.
 */
class BucketColumns {
  private minutes: Uint32Array = new Uint32Array(64);
  private secondsCol: Float32Array = new Float32Array(64);
  private bytesCol: Float32Array = new Float32Array(64);
  private writeSetsCol: Float32Array = new Float32Array(64);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }
  get byteSize(): number {
    return this.minutes.length * 16;
  }
  minute(i: number): number {
    return this.minutes[this.at(i)]! * MINUTE_MS;
  }
  seconds(i: number): number {
    return this.secondsCol[this.at(i)]!;
  }
  bytes(i: number): number {
    return this.bytesCol[this.at(i)]!;
  }
  writeSets(i: number): number {
    return this.writeSetsCol[this.at(i)]!;
  }

  /** Pushes a bucket; returns it as stored (rounded to Float32), for the running sums. */
  push(b: Bucket): Bucket {
    if (this.size === this.minutes.length) this.resize(Math.ceil(this.size * 1.5));
    const j = this.at(this.size);
    this.minutes[j] = b.minute / MINUTE_MS;
    this.secondsCol[j] = b.seconds;
    this.bytesCol[j] = b.bytes;
    this.writeSetsCol[j] = b.writeSets;
    this.size++;
    return { minute: b.minute, epoch: b.epoch, seconds: this.secondsCol[j]!, bytes: this.bytesCol[j]!, writeSets: this.writeSetsCol[j]! };
  }

  shift(): void {
    this.head = this.at(1);
    this.size--;
    if (this.size === 0) this.head = 0;
  }

  /** Room for `capacity` buckets in one allocation per column (a load that knows its size). */
  reserve(capacity: number): void {
    if (capacity > this.minutes.length) this.resize(Math.ceil(capacity));
  }

  private at(i: number): number {
    const j = this.head + i;
    return j < this.minutes.length ? j : j - this.minutes.length;
  }

  /** New columns of `capacity`, the live buckets moved to their front in order. */
  private resize(capacity: number): void {
    const move = <T extends Uint32Array | Float32Array>(col: T, make: (n: number) => T): T => {
      const grown = make(capacity);
      const tail = Math.min(this.size, col.length - this.head);
      grown.set(col.subarray(this.head, this.head + tail));
      grown.set(col.subarray(0, this.size - tail), tail);
      return grown;
    };
    this.minutes = move(this.minutes, (n) => new Uint32Array(n));
    this.secondsCol = move(this.secondsCol, (n) => new Float32Array(n));
    this.bytesCol = move(this.bytesCol, (n) => new Float32Array(n));
    this.writeSetsCol = move(this.writeSetsCol, (n) => new Float32Array(n));
    this.head = 0;
  }
}

function rateOfBucket(b: Bucket): number {
  return b.bytes / b.seconds;
}

function lowerBound(a: Float32Array, n: number, x: number): number {
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
