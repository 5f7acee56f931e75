/**
 * The names a rule condition and its templates can use, and how each is read off the analysis.
 * One list, so that rule files are checked against exactly what evaluation provides. Pure.
 */
import type { ClusterAnalysis, NodeAnalysis } from '../analysis/cluster-analysis.js';
import type { Value } from './expression.js';
import { DAY_MS } from '../units/time.js';

export type Scope = 'node' | 'cluster';

/** What the engine knows beyond the analysis: sampler health and recent events. */
export interface NodeContext {
  missedCycles: number;
  purgesLastHour: number;
  maintenanceAllowanceSeconds: number;
}

export interface VariableDoc {
  unit: 'seconds' | 'bytes' | 'bytes/s' | 'count' | 'days' | 'bool' | 'text' | 'ratio';
  help: string;
}

export const NODE_VARIABLES: Record<string, VariableDoc> = {
  cluster: { unit: 'text', help: 'cluster name' },
  node: { unit: 'text', help: 'node name' },
  window: { unit: 'seconds', help: 'the window: measured when known, else the best estimate' },
  measured_window: { unit: 'seconds', help: 'age of the oldest write-set in the gcache (null until the ring has wrapped)' },
  estimated_window_short: { unit: 'seconds', help: 'gcache.size / short-horizon rate, overhead-corrected or calibrated' },
  estimated_window_long: { unit: 'seconds', help: 'gcache.size / long-horizon rate, overhead-corrected or calibrated' },
  target_window: { unit: 'seconds', help: "the cluster's targetWindow" },
  maintenance_allowance: { unit: 'seconds', help: "the cluster's maintenanceAllowance" },
  ist_budget: { unit: 'seconds', help: 'how long the node could be away and still rejoin by IST, at the current rate' },
  ist_budget_pessimistic: { unit: 'seconds', help: 'the same at a pessimistic (p95) rate' },
  ist_budget_likely: { unit: 'seconds', help: "the same by the time forecast's median: the figure to expect" },
  ist_budget_safe: { unit: 'seconds', help: "the same by the forecast's calibrated 5th percentile: the figure to plan with" },
  ist_forecast_coverage: { unit: 'ratio', help: "share (0..1) of the last backtest's start points at which ist_budget_safe was not optimistic (null before the first backtest)" },
  away: { unit: 'bool', help: 'the node is away (not Synced, or not answering) after having been Synced' },
  away_for: { unit: 'seconds', help: 'while away: time since it was last seen Synced' },
  ist_remaining_bytes: { unit: 'bytes', help: 'while away: bytes the cluster can still write before no donor holds what the node needs for IST (0 once lost)' },
  ist_remaining_likely: { unit: 'seconds', help: "while away: time left before IST is lost, by the forecast's median" },
  ist_remaining_safe: { unit: 'seconds', help: 'while away: the same by the calibrated 5th percentile (plan with this one)' },
  ist_lost: { unit: 'bool', help: 'while away: no eligible donor holds what the node needs any more, so it will rejoin by SST (false while not away; null when unknown)' },
  donor: { unit: 'text', help: 'the donor the IST budget assumes (while the node is away, the one its countdown assumes)' },
  gcache_size: { unit: 'bytes', help: 'gcache.size' },
  recommended_size: { unit: 'bytes', help: 'recommended gcache.size for the target window' },
  gcache_recover: { unit: 'bool', help: 'gcache.recover' },
  gcache_size_uniform: { unit: 'bool', help: 'every node of the cluster has the same gcache.size' },
  write_rate_short: { unit: 'bytes/s', help: 'gcache fill rate, short horizon' },
  write_rate_long: { unit: 'bytes/s', help: 'gcache fill rate, long horizon' },
  local_state: { unit: 'text', help: 'wsrep_local_state_comment' },
  cluster_status: { unit: 'text', help: 'wsrep_cluster_status' },
  synced: { unit: 'bool', help: 'Synced and Primary' },
  reachable: { unit: 'bool', help: 'the last sampling cycle read this node' },
  missed_cycles: { unit: 'count', help: 'consecutive cycles that failed to read this node' },
  purges_last_hour: { unit: 'count', help: 'page-store purges seen in the last hour' },
  trend_days_to_target: { unit: 'days', help: 'days until the trend takes the window below the target (null: not within sight)' },
};

export const CLUSTER_VARIABLES: Record<string, VariableDoc> = {
  cluster: NODE_VARIABLES.cluster!,
  target_window: NODE_VARIABLES.target_window!,
  recommended_size: NODE_VARIABLES.recommended_size!,
  gcache_size_uniform: NODE_VARIABLES.gcache_size_uniform!,
  gcache_sizes: { unit: 'text', help: 'each node with its gcache.size' },
  min_window: { unit: 'seconds', help: 'the smallest window of any node' },
  nodes_synced: { unit: 'count', help: 'nodes that are Synced and Primary' },
  nodes_total: { unit: 'count', help: 'configured nodes' },
  trend_days_to_target: NODE_VARIABLES.trend_days_to_target!,
};

export function variablesFor(scope: Scope): Record<string, VariableDoc> {
  return scope === 'node' ? NODE_VARIABLES : CLUSTER_VARIABLES;
}

function daysToTarget(a: ClusterAnalysis): number | null {
  return a.trend.crossesTargetAt === null ? null : Math.max(0, (a.trend.crossesTargetAt - a.computedAt) / DAY_MS);
}

function sizesUniform(a: ClusterAnalysis): boolean | null {
  const sizes = a.nodes.map((n) => n.gcacheSizeBytes).filter((s): s is number => s !== null);
  return sizes.length === 0 ? null : new Set(sizes).size === 1;
}

export function nodeValues(a: ClusterAnalysis, n: NodeAnalysis, ctx: NodeContext): Record<string, Value> {
  return {
    cluster: a.cluster,
    node: n.node,
    window: n.effectiveWindowSeconds,
    measured_window: n.measured.measuredSeconds,
    estimated_window_short: n.estimated.short.bestSeconds,
    estimated_window_long: n.estimated.long.bestSeconds,
    target_window: a.recommendation.targetWindowSeconds,
    maintenance_allowance: ctx.maintenanceAllowanceSeconds,
    ist_budget: n.istBudget.current?.seconds ?? null,
    ist_budget_pessimistic: n.istBudget.pessimistic?.seconds ?? null,
    donor: n.istBudget.current?.donor ?? n.rejoin?.donor ?? null,
    ...forecastValues(n),
    gcache_size: n.gcacheSizeBytes,
    recommended_size: a.recommendation.recommendedGcacheSizeBytes,
    gcache_recover: n.gcacheRecover,
    gcache_size_uniform: sizesUniform(a),
    write_rate_short: n.rates.short?.bytesPerSecond ?? null,
    write_rate_long: n.rates.long?.bytesPerSecond ?? null,
    local_state: n.localState,
    cluster_status: n.clusterStatus,
    synced: n.reachable && n.localState === 'Synced' && n.clusterStatus === 'Primary',
    reachable: n.reachable,
    missed_cycles: ctx.missedCycles,
    purges_last_hour: ctx.purgesLastHour,
    trend_days_to_target: daysToTarget(a),
  };
}

/** The time forecast of the IST budget, and the countdown of a node that is away (null figures while it is not). */
function forecastValues(n: NodeAnalysis): Record<string, Value> {
  const r = n.rejoin;
  return {
    ist_budget_likely: n.istBudget.likely?.seconds ?? null,
    ist_budget_safe: n.istBudget.safe?.seconds ?? null,
    ist_forecast_coverage: n.istBudget.forecast?.calibration.coverage ?? null,
    away: r !== null,
    away_for: r?.awaySeconds ?? null,
    ist_remaining_bytes: r?.remainingBytes ?? null,
    ist_remaining_likely: r?.remainingSeconds.likely ?? null,
    ist_remaining_safe: r?.remainingSeconds.safe ?? null,
    // Not away: nothing is lost. Away with no figure: unknown, so that no rule fires on a guess.
    ist_lost: r === null ? false : r.verdict === 'unknown' ? null : r.verdict === 'ist-lost',
  };
}

export function clusterValues(a: ClusterAnalysis): Record<string, Value> {
  const windows = a.nodes.map((n) => n.effectiveWindowSeconds).filter((w): w is number => w !== null);
  return {
    cluster: a.cluster,
    target_window: a.recommendation.targetWindowSeconds,
    recommended_size: a.recommendation.recommendedGcacheSizeBytes,
    gcache_size_uniform: sizesUniform(a),
    gcache_sizes: a.nodes.map((n) => `${n.node}=${n.gcacheSizeBytes ?? '?'}`).join(', '),
    min_window: windows.length ? Math.min(...windows) : null,
    nodes_synced: a.nodes.filter((n) => n.reachable && n.localState === 'Synced' && n.clusterStatus === 'Primary').length,
    nodes_total: a.nodes.length,
    trend_days_to_target: daysToTarget(a),
  };
}
