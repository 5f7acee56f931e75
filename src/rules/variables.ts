/**
 * The names a rule condition and its templates can use, and how each is read off the analysis.
 * One list, so that rule files are checked against exactly what evaluation provides. Pure.
 */
import type { ClusterAnalysis, NodeAnalysis } from '../analysis/cluster-analysis.js';
import type { Value } from './expression.js';

export type Scope = 'node' | 'cluster';

/** What the engine knows beyond the analysis: sampler health and recent events. */
export interface NodeContext {
  missedCycles: number;
  purgesLastHour: number;
  maintenanceAllowanceSeconds: number;
}

export interface VariableDoc {
  unit: 'seconds' | 'bytes' | 'bytes/s' | 'count' | 'days' | 'bool' | 'text';
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
  donor: { unit: 'text', help: 'the donor the IST budget assumes' },
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
  return a.trend.crossesTargetAt === null ? null : Math.max(0, (a.trend.crossesTargetAt - a.computedAt) / 86400_000);
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
    donor: n.istBudget.current?.donor ?? null,
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
