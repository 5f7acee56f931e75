/** Resolves the cluster and node names of a request against the config: unknown names are 404s. */
import type { ClusterConfig, Config } from '../config/load.js';
import type { ClusterAnalysis, NodeAnalysis } from '../analysis/cluster-analysis.js';
import { NotFound } from './params.js';

export interface AnalysisSource {
  latest(cluster: string): ClusterAnalysis | undefined;
}

export function makeLookup(config: Config, analyzer: AnalysisSource) {
  const cluster = (name: string): ClusterConfig => {
    const c = config.clusters.find((x) => x.name === name);
    if (!c) throw new NotFound(`unknown cluster "${name}"`);
    return c;
  };
  /** The node's latest analysis, or null before its first cycle. */
  const node = (clusterName: string, nodeName: string): NodeAnalysis | null => {
    const c = cluster(clusterName);
    if (!c.nodes.some((n) => n.name === nodeName)) throw new NotFound(`unknown node "${nodeName}" in cluster "${clusterName}"`);
    return analyzer.latest(clusterName)?.nodes.find((n) => n.node === nodeName) ?? null;
  };
  return { cluster, node };
}

export type Lookup = ReturnType<typeof makeLookup>;
