/**
 * What the analysis needs of one node's history, kept in memory and updated one sample at a
 * time: the points back to the oldest write-set its gcache still holds (full resolution for the
 * last hour, one point a minute before that), the per-minute and per-day rates, the largest
 * write-set average, its gcache settings and its recent purges. Its size follows the span of the
 * gcache, not the length of the stored history, and so does the cost of analysing it.
 */
import { ColumnSeries, type SeriesPoint } from '../analysis/series.js';
import { DailyTotals, MinuteRates } from '../analysis/minute-rates.js';
import { intervalAverageWriteSet, type NodeInput, type RejoinRecord } from '../analysis/cluster-analysis.js';
import { UNCALIBRATED, type Calibration } from '../analysis/forecast.js';
import type { RejoinVerdict } from '../analysis/rejoin.js';
import type { StoredSample } from '../store/store.js';
import { HOUR_MS, MINUTE_MS } from '../units/time.js';

/** Points newer than this stay at full resolution; older ones are thinned to one a minute. */
export const FULL_RESOLUTION_MS = HOUR_MS;
export const TREND_DAYS = 30;
/** States of a node that is in the group and needs no IST: a donor stays a member. */
const IN_GROUP_STATES = new Set(['Synced', 'Donor/Desynced']);

export interface NodeSettingsView {
  gcacheSizeBytes: number;
  pageSizeBytes: number;
  recover: boolean;
  sstDonor: string;
  segment: number;
  epoch: number;
}

export function toPoint(s: Pick<StoredSample, 'takenAt' | 'epoch' | 'status'>): SeriesPoint {
  return {
    t: s.takenAt,
    seqno: s.status.lastCommitted,
    bytes: s.status.receivedBytes + s.status.replicatedBytes,
    epoch: s.epoch,
    downto: s.status.cachedDownto,
    synced: s.status.localState === 'Synced',
  };
}

export class NodeHistory {
  readonly points = new ColumnSeries();
  readonly minutes: MinuteRates;
  readonly days = new DailyTotals(TREND_DAYS);
  latest: StoredSample | null = null;
  settings: NodeSettingsView | null = null;
  /** The bytes per second of its newest in-epoch interval (null after a counter reset). */
  lastBytesPerSecond: number | null = null;
  /** When it was last seen Synced, and its seqno then: where a countdown starts when it leaves. */
  lastSynced: { t: number; seqno: number } | null = null;
  /** Set while it is away: what the countdown said last, for how many cycles, and whether it was seen out of the group. */
  away: { left: { t: number; seqno: number }; expected: RejoinVerdict; remainingBytes: number | null; cycles: number; seenNotSynced: boolean } | null = null;
  lastRejoin: RejoinRecord | null = null;
  calibration: Calibration = UNCALIBRATED;
  /** Times of page-store purges seen, newest last, over the long horizon. */
  readonly purges: number[] = [];
  /**
   * The largest per-interval average write-set size over the raw retention (a sizing hint), as
   * a sliding-window maximum: minutes whose maximum a later, larger one outranks are dropped, so
   * the queue stays short (its front is the answer).
   */
  private readonly largestMinutes: number[] = [];
  private readonly largestValues: number[] = [];
  private lastThinnedAt = 0;

  constructor(
    private readonly shortHorizonMs: number,
    private readonly longHorizonMs: number,
    private readonly rawRetentionMs: number,
  ) {
    this.minutes = new MinuteRates(longHorizonMs);
  }

  /** Takes a new sample in: O(1) amortised. `countRates` is false while seeding from stored rollups. */
  append(sample: StoredSample, countRates = true): void {
    const p = toPoint(sample);
    const n = this.points.length;
    this.lastBytesPerSecond = null;
    if (p.synced && sample.status.clusterStatus === 'Primary') this.lastSynced = { t: p.t, seqno: p.seqno };
    if (n > 0 && this.points.epoch(n - 1) === p.epoch && p.t > this.points.t(n - 1)) {
      const delta = { seconds: (p.t - this.points.t(n - 1)) / 1000, bytes: p.bytes - this.points.bytes(n - 1), writeSets: p.seqno - this.points.seqno(n - 1) };
      if (delta.seconds > 0) this.lastBytesPerSecond = Math.max(0, delta.bytes) / delta.seconds;
      if (countRates) {
        this.minutes.add(p.t, p.epoch, delta);
        this.days.add(p.t, delta);
      }
      const avg = intervalAverageWriteSet(this.points.epoch(n - 1), this.points.seqno(n - 1), this.points.bytes(n - 1), p.epoch, p.seqno, p.bytes);
      if (avg !== null) this.noteAverage(p.t, avg);
    }
    this.points.push(p);
    this.latest = sample;
  }

  /**
   * Drops what no figure can need any more: points older than `keepFrom` (when the oldest
   * write-set the gcache holds was committed; one point before it is kept for interpolation)
   * and than the short horizon, or older than the raw retention; and thins points past the
   * full-resolution span, at most once a minute.
   */
  compact(now: number, keepFrom: number | null): void {
    const s = this.points;
    const needed = Math.min(keepFrom ?? Number.POSITIVE_INFINITY, now - this.shortHorizonMs);
    const floor = Math.max(now - this.rawRetentionMs, needed);
    let drop = 0;
    // Keep the last point at or before `floor`, and always the newest two (drops are judged on a pair).
    while (drop < s.length - 2 && s.t(drop + 1) <= floor) drop++;
    if (drop > 0) s.dropFront(drop);
    if (now - this.lastThinnedAt >= MINUTE_MS) {
      this.lastThinnedAt = now;
      s.thinBefore(now - FULL_RESOLUTION_MS);
    }
    while (this.purges.length && this.purges[0]! < now - this.longHorizonMs) this.purges.shift();
    while (this.largestMinutes.length && this.largestMinutes[0]! < now - this.rawRetentionMs) {
      this.largestMinutes.shift();
      this.largestValues.shift();
    }
  }

  /** The largest per-interval average write-set size over the raw retention. */
  largestAverageWriteSet(): number | null {
    return this.largestValues.length ? this.largestValues[0]! : null;
  }

  /** The analysis input for this node at `now`. */
  /**
   * Away: answering but out of the group (another state than Synced or Donor/Desynced, or not in
   * the Primary component), or not answering while the others count fewer members than the
   * cluster has. A node that only the advisor cannot reach is still in the group: not away.
   */
  private isAway(reachable: boolean, membershipShrank: boolean): boolean {
    if (!reachable) return membershipShrank;
    const status = this.latest?.status;
    return !status || status.clusterStatus !== 'Primary' || !IN_GROUP_STATES.has(status.localState ?? '');
  }

  /** The analysis input for this node at `now`; `membershipShrank` when the sampled nodes count fewer members than the cluster has. */
  input(name: string, reachable: boolean, now: number, membershipShrank = false): NodeInput {
    const status = this.latest?.status;
    const settings = this.settings;
    return {
      name,
      points: this.points,
      reachable,
      localState: status?.localState ?? null,
      clusterStatus: status?.clusterStatus ?? null,
      segment: status?.segment ?? settings?.segment ?? null,
      settings: settings && { gcacheSizeBytes: settings.gcacheSizeBytes, pageSizeBytes: settings.pageSizeBytes, recover: settings.recover, sstDonor: settings.sstDonor },
      minutes: [],
      purgesSeen: this.purges.length,
      calibration: this.calibration,
      away: this.lastSynced && this.isAway(reachable, membershipShrank) ? { since: this.lastSynced.t, lastCommitted: this.lastSynced.seqno } : null,
      lastRejoin: this.lastRejoin,
      incremental: {
        long: this.minutes.long(now),
        distribution: this.minutes.distribution(now),
        trendDays: this.days.rates(now),
        largestAverageWriteSetBytes: this.largestAverageWriteSet(),
      },
    };
  }

  /** Approximate bytes of memory held, for the README's per-node figure and the benchmark. */
  get byteSize(): number {
    return this.points.byteSize + this.minutes.byteSize + this.largestMinutes.length * 16;
  }

  private noteAverage(t: number, avg: number): void {
    const minute = Math.floor(t / MINUTE_MS) * MINUTE_MS;
    // Whatever is not larger than the new value can never be the maximum again.
    while (this.largestValues.length && this.largestValues.at(-1)! <= avg) {
      this.largestValues.pop();
      this.largestMinutes.pop();
    }
    this.largestValues.push(avg);
    this.largestMinutes.push(minute);
  }
}
