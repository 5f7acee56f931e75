/**
 * Everything the advisor computes for one cluster at one instant, from the stored history:
 * per node the rates, the measured and estimated windows, the IST budget and any history drop;
 * per cluster the sizing recommendation and the trend. Pure: the caller supplies the history.
 */
import { minuteRateDistribution, rateBetween, rateOf, type Rate, type RateDistribution } from './rates.js';
import { detectHistoryDrop, measureWindow, ringHasWrapped, type HistoryDrop, type MeasuredWindow, type NodePoint } from './window.js';
import { estimateWindow, overheadFactor, ringCapacityCountedBytes, type WindowEstimate } from './estimate.js';
import { istBudget, type IstBudget, type Member } from './ist.js';
import { recommendGcacheSize, type Recommendation, type SizingInput } from './sizing.js';
import { dailyRates, windowTrend, type Trend } from './trend.js';
import type { TimelinePoint } from './timeline.js';
import { asSeries, pointAt, type SeriesLike } from './series.js';
import type { DailyRate } from './trend.js';
import { forecastTime, UNCALIBRATED, type Calibration, type TimeForecast } from './forecast.js';
import { rejoinCountdown, type Away, type RejoinCountdown, type RejoinVerdict } from './rejoin.js';
import type { ByteSeries } from './write-history.js';
import { MINUTE_MS } from '../units/time.js';

export interface ClusterPoint extends NodePoint {
  synced: boolean;
}

export interface NodeInput {
  name: string;
  /** The node's samples, oldest first: an array, or the daemon's compact series. */
  points: SeriesLike;
  /** Whether the newest cycle sampled this node. */
  reachable: boolean;
  localState: string | null;
  clusterStatus: string | null;
  segment: number | null;
  settings: { gcacheSizeBytes: number; pageSizeBytes: number; recover: boolean; sstDonor: string } | null;
  /** Per-minute rollups over the long horizon (when `long` and `distribution` are not given). */
  minutes: ReadonlyArray<{ minute: number; seconds: number; bytes: number; writeSets: number }>;
  /** Per-minute rollups for the trend (days); may be the same as `minutes` when the horizon is long. */
  trendMinutes?: ReadonlyArray<{ minute: number; seconds: number; bytes: number }>;
  purgesSeen: number;
  /** The calibration of its `safe` figure, from the last backtest (uncalibrated when absent). */
  calibration?: Calibration;
  /** Set while the node is away (not Synced, or not answering) after having been Synced. */
  away?: Away | null;
  /** How it came back the last time it was away (passed through to the analysis). */
  lastRejoin?: RejoinRecord | null;
  /**
   * Figures the daemon keeps up to date incrementally, so that a cycle costs the same whatever
   * the length of the history; computed here from `minutes`/`trendMinutes`/`points` when absent.
   */
  incremental?: {
    long: Rate | null;
    distribution: RateDistribution | null;
    trendDays: readonly DailyRate[];
    largestAverageWriteSetBytes: number | null;
  };
}

export interface ClusterInput {
  cluster: string;
  now: number;
  targetWindowSeconds: number;
  shortHorizonSeconds: number;
  longHorizonSeconds: number;
  nodes: readonly NodeInput[];
  /** The cluster's seqno timeline (see clusterSeqnoTimeline), when the caller keeps it up to date. */
  seqnoTimeline?: SeriesLike;
  /** The cluster's cumulative counted bytes over the long horizon, for the time forecast. */
  writes?: ByteSeries;
}

export interface NodeAnalysis {
  cluster: string;
  node: string;
  computedAt: number;
  reachable: boolean;
  localState: string | null;
  clusterStatus: string | null;
  gcacheSizeBytes: number | null;
  gcacheRecover: boolean | null;
  rates: { short: Rate | null; long: Rate | null; distribution: RateDistribution | null };
  averageWriteSetBytes: number | null;
  overheadFactor: number;
  measured: MeasuredWindow;
  estimated: { short: WindowEstimate; long: WindowEstimate };
  istBudget: {
    current: IstBudget | null;
    pessimistic: IstBudget | null;
    pessimisticBytesPerSecond: number | null;
    /** The byte budget in time by the forecast's median: the figure to expect. */
    likely: IstBudget | null;
    /** By its calibrated 5th percentile: the figure to plan with. */
    safe: IstBudget | null;
    forecast: ForecastSummary | null;
  };
  /** The countdown while the node is away; null while it is Synced. */
  rejoin: RejoinCountdown | null;
  lastRejoin: RejoinRecord | null;
  historyDrop: HistoryDrop | null;
  /** The window the rules should judge: measured when the ring is full, else the best estimate. */
  effectiveWindowSeconds: number | null;
}

/** A node's return after being away: what the countdown expected, and how it rejoined. */
export interface RejoinRecord {
  at: number;
  awaySeconds: number;
  lastCommitted: number;
  method: 'ist' | 'sst';
  expected: RejoinVerdict;
  remainingBytes: number | null;
}

export interface ForecastSummary {
  likelySeconds: number;
  safeSeconds: number;
  /** The 5th percentile before calibration. */
  rawSafeSeconds: number;
  neighbours: number;
  conditioningSeconds: number;
  calibration: Calibration;
}

export interface ClusterAnalysis {
  cluster: string;
  computedAt: number;
  nodes: NodeAnalysis[];
  recommendation: Recommendation;
  /** What the recommendation was computed from, to recompute it for another target window. */
  sizingInput: SizingInput;
  trend: Trend;
}

/** Synced samples of every node merged by time, seqnos kept non-decreasing: when each seqno was committed. */
export function clusterSeqnoTimeline(nodes: ReadonlyArray<{ points: SeriesLike }>): TimelinePoint[] {
  const merged = nodes
    .flatMap((n) => {
      const s = asSeries(n.points);
      const out: ClusterPoint[] = [];
      for (let i = 0; i < s.length; i++) if (s.synced(i)) out.push(pointAt(s, i));
      return out;
    })
    .sort((a, b) => a.t - b.t);
  const out: TimelinePoint[] = [];
  let maxSeqno = -Infinity;
  for (const p of merged) {
    if (p.seqno < maxSeqno) continue; // a node lagging behind the others says nothing new
    maxSeqno = p.seqno;
    out.push(p);
  }
  return out;
}

export function analyzeCluster(input: ClusterInput): ClusterAnalysis {
  const { now } = input;
  const seqnoTimeline = input.seqnoTimeline ?? clusterSeqnoTimeline(input.nodes);

  const partial = input.nodes.map((n) => {
    const points = asSeries(n.points);
    const short = rateBetween(points, now - input.shortHorizonSeconds * 1000, now);
    const longFrom = now - input.longHorizonSeconds * 1000;
    const long = n.incremental ? n.incremental.long : rateOf(n.minutes.filter((m) => m.minute + MINUTE_MS > longFrom));
    const distribution = n.incremental ? n.incremental.distribution : minuteRateDistribution(n.minutes);
    const rateForSize = long ?? short;
    const averageWriteSetBytes = rateForSize && rateForSize.writeSetsPerSecond > 0 ? rateForSize.bytesPerSecond / rateForSize.writeSetsPerSecond : null;
    const measured = measureWindow(points, seqnoTimeline, now);
    const heldWhenFull = measured.ring === 'full' && !measured.lowerBound ? measured.contentBytes : null;
    const gcacheSize = n.settings?.gcacheSizeBytes ?? null;
    const capacity = gcacheSize === null ? null : ringCapacityCountedBytes(gcacheSize, averageWriteSetBytes, heldWhenFull);
    const latest = points.length ? pointAt(points, points.length - 1) : null;
    return { n, points, latest, short, long, distribution, averageWriteSetBytes, measured, heldWhenFull, gcacheSize, capacity };
  });

  const members: Member[] = partial
    .filter((p) => p.capacity !== null && p.latest !== null)
    .map((p) => {
      const latest = p.latest!;
      return {
        name: p.n.name,
        synced: p.n.reachable && latest.synced,
        segment: p.n.segment,
        lastCommitted: latest.seqno,
        downto: latest.downto,
        points: p.points,
        capacityBytes: p.capacity!,
        heldBytes: p.measured.contentBytes ?? modelledHeldBytes(p.points, p.capacity!),
      };
    });

  // The cluster's write rate: every node's gcache takes in every write-set, so the highest
  // node rate is the cluster's (a node that missed part of the horizon reads lower).
  const clusterShort = maxOf(partial.map((p) => p.short?.bytesPerSecond));
  const clusterP95 = maxOf(partial.map((p) => p.distribution?.p95));
  const pessimisticRate = clusterShort === null && clusterP95 === null ? null : Math.max(clusterShort ?? 0, clusterP95 ?? 0);

  const nodes: NodeAnalysis[] = partial.map((p) => {
    const latest = p.latest;
    const joiner = latest && {
      name: p.n.name,
      lastCommitted: latest.seqno,
      segment: p.n.segment,
      sstDonor: p.n.settings?.sstDonor ?? '',
      synced: p.n.reachable && latest.synced,
    };
    const current = joiner ? istBudget(joiner, members, seqnoTimeline, clusterShort) : null;
    const calibration = p.n.calibration ?? UNCALIBRATED;
    const forecast = current?.bytes != null && input.writes ? finiteForecast(forecastTime(input.writes, now, current.bytes), calibration.shrink) : null;
    const summary: ForecastSummary | null = forecast && {
      likelySeconds: forecast.likelySeconds,
      safeSeconds: forecast.rawSafeSeconds * calibration.shrink,
      rawSafeSeconds: forecast.rawSafeSeconds,
      neighbours: forecast.neighbours,
      conditioningSeconds: forecast.conditioningSeconds,
      calibration,
    };
    const inTime = (seconds: number | null): IstBudget | null =>
      current && {
        ...current,
        seconds: current.bytes === null || current.bytes === 0 ? current.seconds : seconds,
        reason: current.bytes !== null && current.bytes > 0 && seconds === null ? 'not enough write history for a forecast yet' : current.reason,
      };
    const away = p.n.away && !(p.n.reachable && latest?.synced) ? p.n.away : null;
    const estimated = {
      short: p.gcacheSize === null ? emptyEstimate() : estimateWindow(p.gcacheSize, p.short?.bytesPerSecond ?? null, p.averageWriteSetBytes, p.heldWhenFull),
      long: p.gcacheSize === null ? emptyEstimate() : estimateWindow(p.gcacheSize, p.long?.bytesPerSecond ?? null, p.averageWriteSetBytes, p.heldWhenFull),
    };
    return {
      cluster: input.cluster,
      node: p.n.name,
      computedAt: now,
      reachable: p.n.reachable,
      localState: p.n.localState,
      clusterStatus: p.n.clusterStatus,
      gcacheSizeBytes: p.gcacheSize,
      gcacheRecover: p.n.settings?.recover ?? null,
      rates: { short: p.short, long: p.long, distribution: p.distribution },
      averageWriteSetBytes: p.averageWriteSetBytes,
      overheadFactor: overheadFactor(p.averageWriteSetBytes),
      measured: p.measured,
      estimated,
      istBudget: {
        current,
        pessimistic: joiner ? istBudget(joiner, members, seqnoTimeline, pessimisticRate) : null,
        pessimisticBytesPerSecond: pessimisticRate,
        likely: inTime(summary?.likelySeconds ?? null),
        safe: inTime(summary?.safeSeconds ?? null),
        forecast: summary,
      },
      rejoin: away
        ? finiteCountdown(
            rejoinCountdown(
              { name: p.n.name, segment: p.n.segment, sstDonor: p.n.settings?.sstDonor ?? '' },
              away,
              members,
              seqnoTimeline,
              {
                writes: input.writes ?? null,
                calibration,
                currentBytesPerSecond: clusterShort,
                pessimisticBytesPerSecond: pessimisticRate,
                othersSampled: input.nodes.some((o) => o.name !== p.n.name && o.reachable),
              },
              now,
            ),
          )
        : null,
      lastRejoin: p.n.lastRejoin ?? null,
      historyDrop: p.gcacheSize === null ? null : detectHistoryDrop(p.points, seqnoTimeline, p.gcacheSize),
      effectiveWindowSeconds: p.measured.measuredSeconds ?? estimated.short.bestSeconds ?? estimated.long.bestSeconds,
    };
  });

  // Ring bytes per counted byte: measured on a full ring when any node has one, else modelled.
  const measuredFactors = partial.filter((p) => p.heldWhenFull && p.gcacheSize).map((p) => p.gcacheSize! / p.heldWhenFull!);
  const modelled = maxOf(nodes.map((n) => n.overheadFactor)) ?? 1;
  const ringFactor = measuredFactors.length ? Math.max(...measuredFactors) : modelled;
  const longRate = maxOf(partial.map((p) => p.long?.bytesPerSecond));
  const sizingInput: SizingInput = {
    targetWindowSeconds: input.targetWindowSeconds,
    p95BytesPerSecond: clusterP95,
    p99BytesPerSecond: maxOf(partial.map((p) => p.distribution?.p99)),
    longBytesPerSecond: longRate,
    ringBytesPerCountedByte: ringFactor,
    ringFactorSource: measuredFactors.length ? 'measured' : 'overhead model',
    nodes: partial.map((p, i) => ({
      name: p.n.name,
      gcacheSizeBytes: p.gcacheSize,
      recover: p.n.settings?.recover ?? null,
      windowSeconds: nodes[i]!.effectiveWindowSeconds,
      largestAverageWriteSetBytes: p.n.incremental ? p.n.incremental.largestAverageWriteSetBytes : largestAverageWriteSet(p.points),
      purgesSeen: p.n.purgesSeen,
    })),
  };
  const recommendation = recommendGcacheSize(sizingInput);

  // The trend follows the node with the most days of history.
  const daysOf = (n: NodeInput): readonly DailyRate[] => n.incremental?.trendDays ?? dailyRates(n.trendMinutes ?? n.minutes);
  const trendDays = input.nodes.map(daysOf).reduce<readonly DailyRate[]>((best, d) => (d.length > best.length ? d : best), []);
  const capacity = minOf(partial.map((p) => p.capacity));
  const trend = windowTrend(trendDays, capacity ?? 0, input.targetWindowSeconds, now);

  return { cluster: input.cluster, computedAt: now, nodes, recommendation, sizingInput, trend };
}

/**
 * What a ring holds when its history does not reach back to its oldest write-set (a daemon that
 * has just started): a wrapped ring is full; an unwrapped one holds what the node's counters
 * say came in since its server started, at most its capacity. Replaced by the measurement as
 * soon as the history covers the ring.
 */
function modelledHeldBytes(points: SeriesLike, capacity: number): number {
  if (ringHasWrapped(points)) return capacity;
  const s = asSeries(points);
  return Math.min(capacity, s.length ? s.bytes(s.length - 1) : 0);
}

/** The largest average write-set size over any one sampling interval: a hint of page-store spills. */
export function largestAverageWriteSet(points: SeriesLike): number | null {
  const s = asSeries(points);
  let largest: number | null = null;
  for (let i = 1; i < s.length; i++) {
    const avg = intervalAverageWriteSet(s.epoch(i - 1), s.seqno(i - 1), s.bytes(i - 1), s.epoch(i), s.seqno(i), s.bytes(i));
    if (avg !== null && (largest === null || avg > largest)) largest = avg;
  }
  return largest;
}

/** Average write-set size over one interval within an epoch, or null when none came in. */
export function intervalAverageWriteSet(epochA: number, seqnoA: number, bytesA: number, epochB: number, seqnoB: number, bytesB: number): number | null {
  const ws = seqnoB - seqnoA;
  if (epochA !== epochB || ws <= 0) return null;
  return (bytesB - bytesA) / ws;
}

/** A forecast whose figures are all finite (a NaN would reach rules as "never" and break the JSON), else none. */
function finiteForecast(f: TimeForecast | null, shrink: number): TimeForecast | null {
  return f && Number.isFinite(f.likelySeconds) && Number.isFinite(f.rawSafeSeconds) && Number.isFinite(f.rawSafeSeconds * shrink) ? f : null;
}

function finiteCountdown(c: RejoinCountdown): RejoinCountdown {
  const finite = (x: number | null) => (x !== null && Number.isFinite(x) ? x : null);
  return { ...c, remainingBytes: finite(c.remainingBytes), remainingSeconds: { likely: finite(c.remainingSeconds.likely), safe: finite(c.remainingSeconds.safe) } };
}

function emptyEstimate(): WindowEstimate {
  return { classicSeconds: null, overheadCorrectedSeconds: null, calibratedSeconds: null, bestSeconds: null };
}

// Loops rather than filter and spread: called several times per cluster every cycle.
function maxOf(values: ReadonlyArray<number | null | undefined>): number | null {
  let out: number | null = null;
  for (const x of values) if (typeof x === 'number' && Number.isFinite(x)) out = out === null ? x : Math.max(out, x);
  return out;
}

function minOf(values: ReadonlyArray<number | null | undefined>): number | null {
  let out: number | null = null;
  for (const x of values) if (typeof x === 'number' && Number.isFinite(x)) out = out === null ? x : Math.min(out, x);
  return out;
}
