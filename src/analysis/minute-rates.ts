/**
 * A node's write rates kept up to date one sample at a time, so that a cycle's cost does not
 * depend on how much history there is:
 * - per-minute buckets (minute, epoch) over the long horizon, with running sums for the long rate;
 *   the quantiles of the bucket rates are taken again only when a bucket closes or expires (once
 *   a minute), and a cycle adds the open bucket's rate to them without sorting anything;
 * - per-day totals for the trend, whose daily rates are recomputed when a day closes.
 * The buckets are the same as the store's per-minute rollups, so the figures equal those that
 * `rateOf` and `minuteRateDistribution` compute from the rollups. Pure: no I/O.
 */
import type { Delta, Rate, RateDistribution } from './rates.js';
import { SlidingColumns } from './sliding-columns.js';
import { dailyRates, type DailyRate } from './trend.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86400_000;
/** Minutes with less data than this give noisy rates and stay out of the quantiles (as in minuteRateDistribution). */
const MIN_BUCKET_SECONDS = 30;
const QUANTILES = { p50: 0.5, p95: 0.95, p99: 0.99 } as const;

interface Bucket {
  minute: number;
  epoch: number;
  seconds: number;
  bytes: number;
  writeSets: number;
}

/**
 * Columns of the closed buckets, oldest first, 12 bytes a bucket (sliding-columns.ts): a bucket's
 * seconds, bytes and write-sets as Float32, exact to seven digits, which is what a rate over them
 * can mean. The running sums over them are kept in doubles. Their minutes are kept as runs.
 */
const SECONDS = 0;
const BYTES = 1;
const WRITE_SETS = 2;

export class MinuteRates {
  private readonly closed = new SlidingColumns(['float32', 'float32', 'float32']);
  private readonly closedMinutes = new MinuteRuns();
  private open: Bucket | null = null;
  private sumSeconds = 0;
  private sumBytes = 0;
  private sumWriteSets = 0;
  /** The closed buckets' rates that the quantiles read; null when a bucket closed or expired since. */
  private ranked: RankedRates | null = null;

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
    // What the horizon holds at steady state (its minutes, the boundary one and the open one),
    // so that a day of buckets is not reallocated as it fills.
    this.closed.reserve(Math.max(buckets, Math.ceil(this.horizonMs / MINUTE_MS) + 4));
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
    if (this.closed.length > 0 && this.minuteAt(0) <= from) {
      seconds -= this.closed.get(SECONDS, 0);
      bytes -= this.closed.get(BYTES, 0);
      writeSets -= this.closed.get(WRITE_SETS, 0);
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
    // Rounded like the closed buckets' rates.
    const extra = extraRate === null ? null : Math.fround(extraRate);
    this.ranked ??= RankedRates.of(this.closedRates());
    return this.ranked.distribution(extra);
  }

  /** Number of buckets held (closed and open). */
  get bucketCount(): number {
    return this.closed.length + (this.open ? 1 : 0);
  }

  /** Bytes of memory held. */
  get byteSize(): number {
    return this.closed.byteSize + this.closedMinutes.byteSize;
  }

  private minuteAt(i: number): number {
    return this.closedMinutes.at(i) * MINUTE_MS;
  }

  private close(): void {
    const b = this.open!;
    this.open = null;
    this.closed.push(b.seconds, b.bytes, b.writeSets);
    this.closedMinutes.push(b.minute / MINUTE_MS);
    // The sums take the bucket as stored (rounded to Float32), as they give it back on expiry.
    const last = this.closed.length - 1;
    this.sumSeconds += this.closed.get(SECONDS, last);
    this.sumBytes += this.closed.get(BYTES, last);
    this.sumWriteSets += this.closed.get(WRITE_SETS, last);
    this.ranked = null;
  }

  /** Drops the closed buckets older than the distribution's reach (minute < now - horizon - 1 min). */
  private expire(now: number): void {
    const keepFrom = now - this.horizonMs - MINUTE_MS;
    let drop = 0;
    while (drop < this.closed.length && this.minuteAt(drop) < keepFrom) {
      this.sumSeconds -= this.closed.get(SECONDS, drop);
      this.sumBytes -= this.closed.get(BYTES, drop);
      this.sumWriteSets -= this.closed.get(WRITE_SETS, drop);
      drop++;
    }
    if (drop === 0) return;
    this.closed.dropFront(drop);
    this.closedMinutes.dropFront(drop);
    this.ranked = null;
    // Running sums drift by rounding; when nothing is left they are exactly zero again.
    if (this.closed.length === 0) this.sumSeconds = this.sumBytes = this.sumWriteSets = 0;
  }

  /** The rates of the closed buckets that count for the quantiles, sorted, in a buffer shared by all nodes. */
  private closedRates(): Float32Array {
    const n = this.closed.length;
    if (scratch.length < n) scratch = new Float32Array(Math.ceil(n * 1.25));
    let k = 0;
    for (let i = 0; i < n; i++) {
      const seconds = this.closed.get(SECONDS, i);
      if (seconds >= MIN_BUCKET_SECONDS) scratch[k++] = this.closed.get(BYTES, i) / seconds;
    }
    return scratch.subarray(0, k).sort();
  }
}

/**
 * The minute numbers of the closed buckets, oldest first, as runs of consecutive minutes: a node
 * sampled without a break has one run over the whole horizon; a gap or a new epoch starts another.
 */
class MinuteRuns {
  private readonly firsts: number[] = [];
  private readonly lengths: number[] = [];

  get byteSize(): number {
    return this.firsts.length * 16;
  }

  push(minute: number): void {
    const last = this.firsts.length - 1;
    if (last >= 0 && this.firsts[last]! + this.lengths[last]! === minute) this.lengths[last]!++;
    else {
      this.firsts.push(minute);
      this.lengths.push(1);
    }
  }

  /** The minute of bucket i (0 the oldest); O(runs before it). */
  at(i: number): number {
    let rest = i;
    for (let r = 0; r < this.firsts.length; r++) {
      if (rest < this.lengths[r]!) return this.firsts[r]! + rest;
      rest -= this.lengths[r]!;
    }
    throw new RangeError(`no bucket ${i}`);
  }

  dropFront(n: number): void {
    let rest = n;
    while (rest > 0 && this.firsts.length > 0) {
      if (this.lengths[0]! <= rest) {
        rest -= this.lengths[0]!;
        this.firsts.shift();
        this.lengths.shift();
      } else {
        this.firsts[0]! += rest;
        this.lengths[0]! -= rest;
        rest = 0;
      }
    }
  }
}

/** Work space for sorting one node's bucket rates (a day is 6 kB); the analysis runs one node at a time. */
let scratch = new Float32Array(0);

/**
 * The few order statistics of n sorted rates that the quantiles (type 7, as simple-statistics'
 * quantileSorted) read, both of those n rates and of those n and one more: for the latter, the
 * value at rank r is found from ranks r - 1 and r of the n without knowing where the extra goes.
 */
class RankedRates {
  private constructor(
    private readonly n: number,
    private readonly ranks: readonly number[],
    private readonly values: readonly number[],
  ) {}

  static of(sorted: Float32Array): RankedRates {
    const n = sorted.length;
    const ranks = new Set<number>([n - 1]);
    for (const p of Object.values(QUANTILES)) {
      for (const idx of [(n - 1) * p, n * p]) {
        for (const r of [Math.floor(idx) - 1, Math.floor(idx), Math.ceil(idx) - 1, Math.ceil(idx)]) if (r >= 0 && r < n) ranks.add(r);
      }
    }
    const kept = [...ranks];
    return new RankedRates(
      n,
      kept,
      kept.map((r) => sorted[r]!),
    );
  }

  /** The distribution of the n rates, with `extra` among them when not null. */
  distribution(extra: number | null): RateDistribution | null {
    const m = extra === null ? this.n : this.n + 1;
    if (m === 0) return null;
    const at = extra === null ? (r: number) => this.old(r) : (r: number) => this.withExtra(r, extra);
    return { p50: quantile(at, m, QUANTILES.p50), p95: quantile(at, m, QUANTILES.p95), p99: quantile(at, m, QUANTILES.p99), peak: at(m - 1), minutes: m };
  }

  private old(r: number): number {
    return this.values[this.ranks.indexOf(r)]!;
  }

  /** Rank r of the n rates with `extra` inserted in order. */
  private withExtra(r: number, extra: number): number {
    if (r < this.n && this.old(r) < extra) return this.old(r);
    if (r === 0 || this.old(r - 1) < extra) return extra;
    return this.old(r - 1);
  }
}

/** Quantile p (type 7, linear between ranks) of m sorted values read by rank: simple-statistics' quantileSorted. */
function quantile(at: (rank: number) => number, m: number, p: number): number {
  const idx = (m - 1) * p;
  if (idx % 1 === 0) return at(idx);
  const lower = Math.floor(idx);
  const upper = Math.ceil(idx);
  return at(lower) + (idx - lower) * (at(upper) - at(lower));
}

function rateOfBucket(b: Bucket): number {
  return b.bytes / b.seconds;
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
