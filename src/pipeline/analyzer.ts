/**
 * Runs the pure analysis after every sampling cycle. It keeps each node's recent samples in
 * memory (loaded once from the store at start, then appended), so a cycle reads only the
 * per-minute rollups from SQLite. Results and history-drop events go to the store; the latest
 * analysis of each cluster stays in memory for the HTTP API, /metrics and the rules.
 */
import type { Config } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import type { Store, StoredSample } from '../store/store.js';
import type { CycleResult } from '../sampler/sampler.js';
import { analyzeCluster, type ClusterAnalysis, type ClusterPoint, type NodeInput } from '../analysis/cluster-analysis.js';

const TREND_DAYS = 30;

export function toPoint(s: StoredSample): ClusterPoint {
  return {
    t: s.takenAt,
    seqno: s.status.lastCommitted,
    bytes: s.status.receivedBytes + s.status.replicatedBytes,
    epoch: s.epoch,
    downto: s.status.cachedDownto,
    synced: s.status.localState === 'Synced',
  };
}

interface NodeMemory {
  points: ClusterPoint[];
  latest: StoredSample | null;
}

export class Analyzer {
  private readonly memory = new Map<string, NodeMemory>();
  private readonly latestByCluster = new Map<string, ClusterAnalysis>();

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const from = this.now() - config.storage.retention.rawSeconds * 1000;
    for (const cluster of config.clusters) {
      for (const node of cluster.nodes) {
        const samples = store.samples(cluster.name, node.name, from, Number.MAX_SAFE_INTEGER);
        this.memory.set(key(cluster.name, node.name), { points: samples.map(toPoint), latest: samples.at(-1) ?? null });
      }
    }
    for (const analysis of store.latestAnalyses()) this.latestByCluster.set(analysis.cluster, analysis);
  }

  latest(cluster: string): ClusterAnalysis | undefined {
    return this.latestByCluster.get(cluster);
  }

  all(): ClusterAnalysis[] {
    return [...this.latestByCluster.values()];
  }

  /** Takes one cycle's samples in and analyses every cluster. */
  onCycle(result: CycleResult): ClusterAnalysis[] {
    const sampled = new Set<string>();
    for (const outcome of result.outcomes) {
      if (!outcome.ok) continue;
      const mem = this.memory.get(key(outcome.cluster, outcome.node));
      if (!mem) continue;
      mem.points.push(toPoint(outcome.sample));
      mem.latest = outcome.sample;
      sampled.add(key(outcome.cluster, outcome.node));
    }
    const now = this.now();
    const keepFrom = now - this.config.storage.retention.rawSeconds * 1000;
    const analyses: ClusterAnalysis[] = [];
    for (const cluster of this.config.clusters) {
      const nodes: NodeInput[] = cluster.nodes.map((node) => {
        const mem = this.memory.get(key(cluster.name, node.name))!;
        trimBefore(mem.points, keepFrom);
        const settings = this.store.latestSettings(cluster.name, node.name);
        const longFrom = now - this.config.horizons.longSeconds * 1000;
        return {
          name: node.name,
          points: mem.points,
          reachable: sampled.has(key(cluster.name, node.name)),
          localState: mem.latest?.status.localState ?? null,
          clusterStatus: mem.latest?.status.clusterStatus ?? null,
          segment: mem.latest?.status.segment ?? settings?.segment ?? null,
          settings: settings && { gcacheSizeBytes: settings.sizeBytes, pageSizeBytes: settings.pageSizeBytes, recover: settings.recover, sstDonor: settings.sstDonor },
          minutes: this.store.rollups(cluster.name, node.name, longFrom - 60_000, now),
          trendMinutes: this.store.dailyTotals(cluster.name, node.name, now - TREND_DAYS * 86400_000),
          purgesSeen: this.store.countEvents(cluster.name, node.name, 'page_store_purge', longFrom),
        };
      });
      const analysis = analyzeCluster({
        cluster: cluster.name,
        now,
        targetWindowSeconds: cluster.targetWindowSeconds,
        shortHorizonSeconds: this.config.horizons.shortSeconds,
        longHorizonSeconds: this.config.horizons.longSeconds,
        nodes,
      });
      for (const n of analysis.nodes) {
        // A drop is judged on the newest two samples: only a node sampled in this cycle has a new pair.
        if (!n.historyDrop || !sampled.has(key(cluster.name, n.node))) continue;
        this.store.recordEvent({ cluster: cluster.name, node: n.node, at: now, kind: n.historyDrop.kind, detail: { ...n.historyDrop } });
        this.log.warn(n.historyDrop.kind === 'page_store_purge' ? 'page-store purge: gcache history dropped' : 'gcache reset', { cluster: cluster.name, node: n.node, ...n.historyDrop });
      }
      this.store.recordAnalysis(analysis);
      this.latestByCluster.set(cluster.name, analysis);
      analyses.push(analysis);
    }
    return analyses;
  }
}

function key(cluster: string, node: string): string {
  return `${cluster}\u0000${node}`;
}

function trimBefore(points: ClusterPoint[], from: number): void {
  let drop = 0;
  while (drop < points.length - 2 && points[drop]!.t < from) drop++;
  if (drop > 0) points.splice(0, drop);
}
