/**
 * The maintenance check: may this node be taken down for `duration` and still come back by IST?
 * It answers from what the cluster really wrote over such durations in the past, from start points
 * whose load resembled now's (`writesOver`), against the node's IST budget in bytes: safe only
 * when a donor exists, the node is Synced now, and at least 99% of those past durations wrote
 * less than the budget. Too little history is "risky": the check must show safety, not assume it.
 * Pure: the caller gives the clock.
 */
import type { NodeAnalysis } from './cluster-analysis.js';
import { ringCapacityCountedBytes } from './estimate.js';
import { writesOver } from './forecast.js';
import type { ByteSeries } from './write-history.js';
import { formatBytes, formatDuration } from '../units/format.js';

/** The share of comparable start points whose writes must have fitted: the p99. */
export const SAFE_FIT_SHARE = 0.99;

const MIB = 1024 * 1024;

export interface MaintenanceInput {
  node: NodeAnalysis;
  /** The cluster's cumulative counted bytes; null when the daemon has none (yet). */
  writes: ByteSeries | null;
  now: number;
  durationSeconds: number;
  /** The gcache.size of the ring the budget counts on (the donor's; the node's own when unknown). */
  gcacheSizeBytes: number | null;
  /** Counted bytes that ring holds when full; derived from `node` when absent. */
  capacityBytes?: number | null;
}

export interface MaintenanceCheck {
  durationSeconds: number;
  /** Counted bytes the cluster may write before the node loses IST; null when unknown. */
  budgetBytes: number | null;
  donor: string | null;
  /** Share of the comparable past start points from which `duration` of writes fitted in the budget. */
  fitShare: number | null;
  comparedStartPoints: number;
  p50Bytes: number | null;
  p99Bytes: number | null;
  verdict: 'safe' | 'risky';
  reason: string;
  /** The gcache.size at which the p99 of those writes would fit, rounded up to a whole MiB. */
  gcacheSizeForP99Bytes: number | null;
}

/**
 * Counted bytes a node's ring holds when full, as the analysis computes it: measured on a full
 * ring, else modelled from gcache.size and the per-write-set overhead.
 */
export function ringCapacityOf(n: NodeAnalysis, gcacheSizeBytes: number | null = n.gcacheSizeBytes): number | null {
  if (gcacheSizeBytes === null) return null;
  const heldWhenFull = n.measured.ring === 'full' && !n.measured.lowerBound ? n.measured.contentBytes : null;
  return ringCapacityCountedBytes(gcacheSizeBytes, n.averageWriteSetBytes, heldWhenFull);
}

/**
 * The gcache.size that would give a budget of `neededBudgetBytes`. The part of the donor's ring
 * that is not budget (capacity − budget: what it holds newer than S, and Galera's safety gap)
 * stays as it is in a bigger ring, so the budget grows byte for byte with the capacity; counted
 * bytes become ring bytes at gcache.size / capacity.
 */
export function gcacheSizeFor(neededBudgetBytes: number, budgetBytes: number, capacityBytes: number, gcacheSizeBytes: number): number {
  const neededCapacity = neededBudgetBytes + Math.max(0, capacityBytes - budgetBytes);
  // Multiplied before dividing: round figures stay exact, and a whole MiB is not rounded up to the next.
  return Math.ceil((neededCapacity * gcacheSizeBytes) / capacityBytes / MIB) * MIB;
}

/** Sampled by the latest cycle and Synced: a node that may still leave and come back by IST. */
export function syncedNow(n: NodeAnalysis): boolean {
  return n.reachable && n.localState === 'Synced';
}

export function maintenanceCheck(input: MaintenanceInput): MaintenanceCheck {
  const { node, durationSeconds } = input;
  const budget = node.istBudget.current;
  const budgetBytes = budget?.bytes ?? null;
  const donor = budget?.donor ?? null;
  const base = { durationSeconds, budgetBytes, donor, fitShare: null, comparedStartPoints: 0, p50Bytes: null, p99Bytes: null, gcacheSizeForP99Bytes: null };
  const risky = (reason: string): MaintenanceCheck => ({ ...base, verdict: 'risky', reason });
  const forHow = formatDuration(durationSeconds);

  if (!node.reachable) return risky('the node was not sampled by the latest cycle: its state is unknown');
  if (node.localState !== 'Synced') return risky(`the node is ${node.localState ?? 'in an unknown state'}, not Synced: only a Synced node has an IST budget to leave with`);
  if (budgetBytes === null) return risky(`no IST budget: ${budget?.reason ?? 'not analysed yet'}`);
  if (donor === null) return risky(budget!.reason);
  if (budgetBytes === 0) return risky(`the IST budget is 0 already: ${budget!.reason}`);

  const w = input.writes ? writesOver(input.writes, input.now, durationSeconds * 1000, budgetBytes) : null;
  if (!w) {
    return risky(`not enough write history to show that ${forHow} of writes fit in the ${formatBytes(budgetBytes)} IST budget: it must reach back at least ${forHow}`);
  }
  const capacity = input.capacityBytes ?? ringCapacityOf(node, input.gcacheSizeBytes);
  const sizeForP99 = input.gcacheSizeBytes === null || !capacity || capacity <= 0 ? null : gcacheSizeFor(w.p99Bytes, budgetBytes, capacity, input.gcacheSizeBytes);
  const figures = {
    ...base,
    fitShare: w.fitShare,
    comparedStartPoints: w.samples,
    p50Bytes: w.p50Bytes,
    p99Bytes: w.p99Bytes,
    gcacheSizeForP99Bytes: sizeForP99,
  };
  const share = `${formatShare(w.fitShare)} of ${w.samples} comparable past start points`;
  // The quantile interpolates: with fitShare just at 0.99 the p99 may still top the budget.
  const safe = w.fitShare >= SAFE_FIT_SHARE && w.p99Bytes <= budgetBytes;
  if (safe) {
    return {
      ...figures,
      verdict: 'safe',
      reason: `${forHow} of writes fitted in the ${formatBytes(budgetBytes)} IST budget from ${share} (p99 ${formatBytes(w.p99Bytes)}); donor ${donor}`,
    };
  }
  const bigger = sizeForP99 === null ? '' : `; gcache.size ${formatBytes(sizeForP99)} would hold the p99`;
  return {
    ...figures,
    verdict: 'risky',
    reason: `${forHow} of writes fitted in the ${formatBytes(budgetBytes)} IST budget from only ${share} (p99 ${formatBytes(w.p99Bytes)})${bigger}`,
  };
}

/** 0.987 as "98.7%", never rounding a miss up to 100%. */
export function formatShare(share: number): string {
  // The epsilon keeps 0.575 (574.999… thousandths in floating point) at 57.5%.
  const tenths = Math.floor(share * 1000 + 1e-9) / 10;
  return `${tenths}%`;
}
