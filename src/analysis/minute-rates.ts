/**
 * A node's write rates kept up to date one sample at a time, so that a cycle's cost does not
 * depend on how much history there is:
 * - per-minute buckets (minute, epoch) over the long horizon, with running sums for the long rate;
 *   the bucket rates are sorted again only when a bucket that counts closes (once a minute; the
 *   expiry that follows is foreseen by that sort), and a cycle adds the open bucket's rate to
 *   their quantiles without sorting anything;
 * - per-day totals for the trend, whose daily rates are recomputed when a day closes.
 * The buckets are the same as the store's per-minute rollups, so the figures equal those that
 * `rateOf` and `minuteRateDistribution` compute from the rollups. Pure: no I/O.
 */
import { quantileSorted } from 'simple-statistics';
import type { Delta, Rate, RateDistribution } from './rates.js';
import { SlidingColumns } from './sliding-columns.js';
import { dailyRates, type DailyRate } from './trend.js';
import { DAY_MS, MINUTE_MS } from '../units/time.js';

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
 * Columns of the closed buckets, oldest first (sliding-columns.ts): a bucket's seconds, bytes and
 * write-sets as Float32, exact to seven digits, which is what a rate over them can mean. Seconds
 * and write-sets take 16 bits each while they are whole milliseconds and whole write-sets that
 * fit (under 65.5 s: at sampling intervals up to a minute, every bucket but one after a missed
 * sample; at most 65,534 write-sets), so 8 bytes a bucket rather than 12, with the same values. The running sums over them are kept in doubles. Their minutes
 * are kept as runs.
 */
const SECONDS = 0;
const BYTES = 1;
const WRITE_SETS = 2;

export class MinuteRates {
  private readonly closed = new SlidingColumns(['seconds16', 'float32', 'count16']);
  private readonly closedSeconds = this.closed.column(SECONDS);
  private readonly closedBytes = this.closed.column(BYTES);
  private readonly closedWriteSets = this.closed.column(WRITE_SETS);
  private readonly closedMinutes = new MinuteRuns();
  private open: Bucket | null = null;
  private sumSeconds = 0;
  private sumBytes = 0;
  private sumWriteSets = 0;
  /**
   * The order statistics of the closed buckets' rates that the quantiles read: null when the
   * rates changed since, to be taken again (one sort) at the next read, whatever the changes were.
   */
  private ranked: RankedRates | null = null;
  /**
   * Those of the same rates less the oldest one, taken with them: the bucket that expires next.
   * A bucket closes when a sample of the next minute comes in, the oldest expires when a cycle's
   * clock passes the minute, and the two fall in different cycles often enough (always when the
   * clocks keep to whole seconds, as in a replay); this spares the expiry a second sort.
   */
  private afterExpiry: { rate: number; ranked: RankedRates } | null = null;

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
      seconds -= this.closedSeconds.at(0);
      bytes -= this.closedBytes.at(0);
      writeSets -= this.closedWriteSets.at(0);
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
    this.ranked ??= this.rank();
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
    this.sumSeconds += this.closedSeconds.at(last);
    this.sumBytes += this.closedBytes.at(last);
    this.sumWriteSets += this.closedWriteSets.at(last);
    if (this.countedRate(last) !== null) this.ranked = this.afterExpiry = null;
  }

  /** Drops the closed buckets older than the distribution's reach (minute < now - horizon - 1 min). */
  private expire(now: number): void {
    const keepFrom = now - this.horizonMs - MINUTE_MS;
    let drop = 0;
    let counted = 0;
    let rate = Number.NaN;
    while (drop < this.closed.length && this.minuteAt(drop) < keepFrom) {
      this.sumSeconds -= this.closedSeconds.at(drop);
      this.sumBytes -= this.closedBytes.at(drop);
      this.sumWriteSets -= this.closedWriteSets.at(drop);
      const r = this.countedRate(drop);
      if (r !== null) {
        counted++;
        rate = r;
      }
      drop++;
    }
    if (drop === 0) return;
    this.closed.dropFront(drop);
    this.closedMinutes.dropFront(drop);
    if (counted > 0) {
      // Only the oldest rate went, as the last sort foresaw: its order statistics without it are ready.
      const foreseen = counted === 1 && this.afterExpiry !== null && Object.is(this.afterExpiry.rate, rate);
      this.ranked = foreseen ? this.afterExpiry!.ranked : null;
      this.afterExpiry = null;
    }
    // Running sums drift by rounding; when nothing is left they are exactly zero again.
    if (this.closed.length === 0) this.sumSeconds = this.sumBytes = this.sumWriteSets = 0;
  }

  /**
   * Sorts the rates of the closed buckets that count for the quantiles (in a buffer shared by all
   * nodes) and returns their order statistics; keeps those without the oldest rate for its expiry.
   */
  private rank(): RankedRates {
    const n = this.closed.length;
    if (scratch.length < n) scratch = new Float32Array(Math.ceil(n * 1.25));
    let k = 0;
    for (let i = 0; i < n; i++) {
      const rate = this.countedRate(i);
      if (rate !== null) scratch[k++] = rate;
    }
    const sorted = scratch.subarray(0, k);
    const oldest = sorted[0];
    sorted.sort();
    const ranked = RankedRates.of(sorted);
    this.afterExpiry = oldest === undefined ? null : { rate: oldest, ranked: RankedRates.of(withoutOne(sorted, oldest)) };
    return ranked;
  }

  /** The rate of closed bucket i as the quantiles take it (rounded to Float32), or null when the bucket is too short to count. */
  private countedRate(i: number): number | null {
    const seconds = this.closedSeconds.at(i);
    return seconds >= MIN_BUCKET_SECONDS ? Math.fround(this.closedBytes.at(i) / seconds) : null;
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

/** `sorted` (which it reuses) less one value equal to v (the same bits: +0 and -0 differ), still sorted. */
function withoutOne(sorted: Float32Array, v: number): Float32Array {
  const k = sorted.findIndex((x) => Object.is(x, v));
  if (k < 0) throw new RangeError(`${v} is not among the rates`);
  sorted.copyWithin(k, k + 1);
  return sorted.subarray(0, sorted.length - 1);
}

/** The two order statistics a quantile reads, reused: the analysis runs one node at a time. */
const pair = [0, 0];

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
    const ranks = new Set<number>(n > 0 ? [n - 1] : []);
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
    return {
      p50: this.quantile(m, QUANTILES.p50, extra),
      p95: this.quantile(m, QUANTILES.p95, extra),
      p99: this.quantile(m, QUANTILES.p99, extra),
      peak: this.at(m - 1, extra),
      minutes: m,
    };
  }

  /**
   * Quantile p of the m rates, by simple-statistics' quantileSorted over the two order statistics
   * it interpolates between (ranks floor and ceil of (m - 1) p, type 7), with p moved to where the
   * quantile falls between them: the same arithmetic, to the bit, as over all m rates.
   */
  private quantile(m: number, p: number, extra: number | null): number {
    const idx = (m - 1) * p;
    const lower = Math.floor(idx);
    pair[0] = this.at(lower, extra);
    pair[1] = this.at(Math.ceil(idx), extra);
    return quantileSorted(pair, idx - lower);
  }

  /** Rank r of the n rates, with `extra` inserted in order when not null. */
  private at(r: number, extra: number | null): number {
    if (extra === null || (r < this.n && this.old(r) < extra)) return this.old(r);
    if (r === 0 || this.old(r - 1) < extra) return extra;
    return this.old(r - 1);
  }

  private old(r: number): number {
    return this.values[this.ranks.indexOf(r)]!;
  }
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
