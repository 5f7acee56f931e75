/**
 * The JSON shapes the API answers with, built from the analysis and the store's rows. Each view
 * returns the static type of its schema (schemas.ts or the route's module), so that what is built
 * here and what the serializer lets through cannot drift apart.
 */
import type { ClusterAnalysis, NodeAnalysis } from '../analysis/cluster-analysis.js';
import type { StoredAlert, StoredEvent } from '../store/store.js';
import { syncedNow, type MaintenanceCheck } from '../analysis/maintenance.js';
import type { AlertView, EventView, HistoryPoint, MaintenanceView, NodeSummary, RejoinView, WindowViewWithForecast } from './schemas.js';

function iso(t: number): string;
function iso(t: number | null | undefined): string | null;
function iso(t: number | null | undefined): string | null {
  return t === null || t === undefined ? null : new Date(t).toISOString();
}

export function alertView(a: StoredAlert): AlertView {
  return {
    alertname: a.rule,
    state: a.state,
    severity: a.severity,
    labels: a.labels,
    annotations: a.annotations,
    activeAt: iso(a.activeAt),
    firedAt: iso(a.firedAt),
    resolvedAt: iso(a.resolvedAt),
  };
}

export function eventView(e: StoredEvent): EventView {
  return { cluster: e.cluster, node: e.node, at: iso(e.at), kind: e.kind, detail: e.detail };
}

/** One step of a node's history: the store's averages, `at` (the start of the step) as a time. */
export function historyPointView(p: Readonly<Record<string, number | null>>): HistoryPoint {
  const figure = (name: string) => p[name] ?? null;
  return {
    at: iso(p.at!),
    measuredSeconds: figure('measuredSeconds'),
    estimatedShortSeconds: figure('estimatedShortSeconds'),
    estimatedLongSeconds: figure('estimatedLongSeconds'),
    istBudgetCurrentSeconds: figure('istBudgetCurrentSeconds'),
    istBudgetPessimisticSeconds: figure('istBudgetPessimisticSeconds'),
    writeRateShortBytesPerSecond: figure('writeRateShortBytesPerSecond'),
    writeRateLongBytesPerSecond: figure('writeRateLongBytesPerSecond'),
    writeSetsShortPerSecond: figure('writeSetsShortPerSecond'),
    samples: p.samples ?? 0,
  };
}

/** A node as the config and discovery know it: `departed` once it has left the cluster's membership. */
export interface NodeIdentity {
  name: string;
  departed?: boolean;
  discovered?: boolean;
}

export function nodeSummary(node: NodeIdentity, n: NodeAnalysis | null): NodeSummary {
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

/** Every node of a cluster with its latest figures (empty ones before the cluster's first analysis). */
export function nodeSummaries(nodes: readonly NodeIdentity[], a: ClusterAnalysis | undefined): NodeSummary[] {
  return nodes.map((n) => nodeSummary(n, a?.nodes.find((x) => x.node === n.name) ?? null));
}

export function windowView(cluster: string, node: string, n: NodeAnalysis | null): WindowViewWithForecast {
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
    istBudgetSeconds: {
      current: n?.istBudget.current?.seconds ?? null,
      pessimistic: n?.istBudget.pessimistic?.seconds ?? null,
      likely: n?.istBudget.likely?.seconds ?? null,
      safe: n?.istBudget.safe?.seconds ?? null,
    },
    istBudgetBytes: n?.istBudget.current?.bytes ?? null,
    istBudgetReason: n?.istBudget.current?.reason ?? null,
    donor: n?.istBudget.current?.donor ?? null,
    gcacheSizeBytes: n?.gcacheSizeBytes ?? null,
    writeRateBytesPerSecond: { short: n?.rates.short?.bytesPerSecond ?? null, long: n?.rates.long?.bytesPerSecond ?? null },
    writeSetsPerSecond: { short: n?.rates.short?.writeSetsPerSecond ?? null, long: n?.rates.long?.writeSetsPerSecond ?? null },
    overheadFactor: n?.overheadFactor ?? null,
    istForecastCoverage: n?.istBudget.forecast?.calibration.coverage ?? null,
    rejoin: n?.rejoin ?? null,
  };
}

/** Synced when sampled and Synced now; away otherwise (the countdown runs once it was seen Synced). */
export function rejoinView(cluster: string, node: string, n: NodeAnalysis | null): RejoinView {
  return {
    cluster,
    node,
    computedAt: iso(n?.computedAt),
    status: n === null ? 'unknown' : syncedNow(n) ? 'synced' : 'away',
    rejoin: n?.rejoin ?? null,
    lastRejoin: n?.lastRejoin ?? null,
  };
}

export function maintenanceView(cluster: string, node: string, computedAt: number, check: MaintenanceCheck): MaintenanceView {
  return { cluster, node, computedAt: iso(computedAt), ...check };
}
