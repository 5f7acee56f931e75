/**
 * The live countdown for a node that is away (not Synced, or not answering): it left at S, its
 * last committed seqno when last seen Synced, and needs S+1 onwards to rejoin by IST. Every cycle
 * the donors' real ring state says how many more bytes the cluster can write before no eligible
 * donor holds S+1 (or Galera's safety gap refuses IST), and the time forecast turns that into
 * time left. Pure.
 */
import { istBudget, type Member } from './ist.js';
import { forecastTime, type Calibration } from './forecast.js';
import type { SeriesLike } from './series.js';
import type { ByteSeries } from './write-history.js';

export interface Away {
  /** When the node was last seen Synced (ms). */
  since: number;
  /** Its last committed seqno then: S. */
  lastCommitted: number;
}

export type RejoinVerdict = 'ist-possible' | 'sst-likely' | 'ist-lost' | 'unknown';

export interface RejoinCountdown {
  awaySince: number;
  awaySeconds: number;
  lastCommitted: number;
  needsSeqno: number;
  /** Bytes the cluster can still write before IST is lost; 0 once it is. */
  remainingBytes: number | null;
  remainingSeconds: { likely: number | null; safe: number | null };
  donor: string | null;
  verdict: RejoinVerdict;
  reason: string;
}

/** Under this much time left at the `safe` figure, the verdict is "SST likely". */
export const SST_LIKELY_WITHIN_SECONDS = 600;

/** What the countdown reads besides the donors: the forecast's inputs, and one-rate fallbacks while the write history is short. */
export interface CountdownContext {
  writes: ByteSeries | null;
  calibration: Calibration;
  /** The cluster's current and pessimistic write rates (bytes/s), for a time while the forecast has too little history. */
  currentBytesPerSecond: number | null;
  pessimisticBytesPerSecond: number | null;
  /** Whether any other node was sampled this cycle: without one, the donors' state is unknown, not gone. */
  othersSampled: boolean;
}

export function rejoinCountdown(
  joiner: { name: string; segment: number | null; sstDonor: string },
  away: Away,
  members: readonly Member[],
  clusterSeqnoPoints: SeriesLike,
  ctx: CountdownContext,
  now: number,
): RejoinCountdown {
  // The budget of a node that is Synced at S: the donors' rings, as they are now.
  const budget = istBudget({ ...joiner, lastCommitted: away.lastCommitted, synced: true }, members, clusterSeqnoPoints, null);
  const base = {
    awaySince: away.since,
    awaySeconds: Math.max(0, (now - away.since) / 1000),
    lastCommitted: away.lastCommitted,
    needsSeqno: budget.needsSeqno,
    remainingBytes: budget.bytes,
    donor: budget.bytes === 0 ? null : budget.donor,
  };
  if (budget.bytes === null) return { ...base, remainingSeconds: { likely: null, safe: null }, verdict: 'unknown', reason: budget.reason };
  if (!ctx.othersSampled) {
    return { ...base, remainingBytes: null, donor: null, remainingSeconds: { likely: null, safe: null }, verdict: 'unknown', reason: 'no other node was sampled this cycle' };
  }
  if (budget.bytes === 0) {
    return {
      ...base,
      remainingSeconds: { likely: 0, safe: 0 },
      verdict: 'ist-lost',
      reason:
        budget.donor === null ? budget.reason : `no eligible donor still holds seqno ${budget.needsSeqno}, or Galera's safety gap refuses IST from it: the node will need an SST`,
    };
  }
  const f = ctx.writes ? forecastTime(ctx.writes, now, budget.bytes) : null;
  const atRate = (rate: number | null) => (rate !== null && rate > 0 ? budget.bytes! / rate : null);
  const likely = f ? f.likelySeconds : atRate(ctx.currentBytesPerSecond);
  const safe = f ? f.rawSafeSeconds * ctx.calibration.shrink : atRate(ctx.pessimisticBytesPerSecond);
  const soon = safe !== null && safe <= SST_LIKELY_WITHIN_SECONDS;
  return {
    ...base,
    remainingSeconds: { likely, safe },
    verdict: soon ? 'sst-likely' : 'ist-possible',
    reason: soon
      ? `IST is likely lost within ${Math.round(likely ?? safe!)} s (${Math.round(safe!)} s at the safe figure), when ${budget.donor} evicts seqno ${budget.needsSeqno}`
      : f
        ? `IST still possible from ${budget.donor}`
        : `IST still possible from ${budget.donor}; times at the current and pessimistic rates until the write history allows a forecast`,
  };
}

/**
 * How the node came back, from its first Synced sample after being away: a node that rejoined by
 * IST keeps (or is given) the write-sets from S+1 on, so its gcache reaches back to S+1 at least;
 * after an SST its gcache starts after S+1 or is empty.
 */
export function rejoinMethod(lastCommittedWhenLeft: number, cachedDowntoNow: number | null): 'ist' | 'sst' {
  return cachedDowntoNow !== null && cachedDowntoNow <= lastCommittedWhenLeft + 1 ? 'ist' : 'sst';
}
