/** The JSON shapes the API answers with, built from the analysis and the store's rows. */
import type { NodeAnalysis } from '../analysis/cluster-analysis.js';
import type { StoredAlert } from '../store/store.js';

const iso = (t: number | null | undefined): string | null => (t === null || t === undefined ? null : new Date(t).toISOString());

export function alertView(a: StoredAlert) {
  return { alertname: a.rule, state: a.state, severity: a.severity, labels: a.labels, annotations: a.annotations, activeAt: iso(a.activeAt), firedAt: iso(a.firedAt), resolvedAt: iso(a.resolvedAt) };
}

/** A node as the config and discovery know it: `departed` once it has left the cluster's membership. */
export interface NodeIdentity {
  name: string;
  departed?: boolean;
  discovered?: boolean;
}

export function nodeSummary(node: NodeIdentity, n: NodeAnalysis | null) {
  return {
    name: node.name,
    discovered: node.discovered ?? false,
    departed: node.departed ?? false,
    reachable: n?.reachable ?? false,
    localState: n?.localState ?? null,
    clusterStatus: n?.clusterStatus ?? null,
    gcacheSizeBytes: n?.gcacheSizeBytes ?? null,
    ring: n?.measured.ring ?? 'unknown',
    measuredSeconds: n?.measured.measuredSeconds ?? null,
    effectiveWindowSeconds: n?.effectiveWindowSeconds ?? null,
    istBudgetSeconds: n?.istBudget.current?.seconds ?? null,
    donor: n?.istBudget.current?.donor ?? null,
    computedAt: iso(n?.computedAt),
  };
}

export function windowView(cluster: string, node: string, n: NodeAnalysis | null) {
  return {
    cluster,
    node,
    sampledAt: iso(n?.computedAt),
    ring: n?.measured.ring ?? 'unknown',
    summary: n?.measured.summary ?? 'no samples yet',
    measuredSeconds: n?.measured.measuredSeconds ?? null,
    oldestCachedSeqno: n?.measured.oldestSeqno ?? null,
    oldestCachedAt: n?.measured.oldestCommittedAt ? iso(n.measured.oldestCommittedAt) : null,
    oldestCachedAgeIsLowerBound: n?.measured.lowerBound ?? false,
    estimatedSeconds: {
      short: n?.estimated.short.bestSeconds ?? null,
      long: n?.estimated.long.bestSeconds ?? null,
      classicShort: n?.estimated.short.classicSeconds ?? null,
      classicLong: n?.estimated.long.classicSeconds ?? null,
    },
    istBudgetSeconds: { current: n?.istBudget.current?.seconds ?? null, pessimistic: n?.istBudget.pessimistic?.seconds ?? null },
    istBudgetBytes: n?.istBudget.current?.bytes ?? null,
    istBudgetReason: n?.istBudget.current?.reason ?? null,
    donor: n?.istBudget.current?.donor ?? null,
    gcacheSizeBytes: n?.gcacheSizeBytes ?? null,
    writeRateBytesPerSecond: { short: n?.rates.short?.bytesPerSecond ?? null, long: n?.rates.long?.bytesPerSecond ?? null },
    writeSetsPerSecond: { short: n?.rates.short?.writeSetsPerSecond ?? null, long: n?.rates.long?.writeSetsPerSecond ?? null },
    overheadFactor: n?.overheadFactor ?? null,
  };
}
