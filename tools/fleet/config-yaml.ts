/**
 * The gcache-advisor config for a simulated fleet. Pure: the benchmark builds it from the node
 * list the simulator process prints, the library from its own nodes.
 */
import YAML from 'yaml';

export interface FleetNodeAddress {
  cluster: string;
  name: string;
  host: string;
  port: number;
}

export interface FleetConfigOptions {
  /** Default gcache_advisor. */
  user?: string;
  /** The environment variable holding the password. Default GCACHE_ADVISOR_DB_PASSWORD. */
  passwordEnv?: string;
  /** Every cluster's targetWindow, e.g. "1h". Default: the daemon's default. */
  targetWindow?: string;
}

export const DEFAULT_PASSWORD_ENV = 'GCACHE_ADVISOR_DB_PASSWORD';

export function fleetConfigYaml(nodes: ReadonlyArray<FleetNodeAddress>, extra: Record<string, unknown> = {}, options: FleetConfigOptions = {}): string {
  const byCluster = new Map<string, FleetNodeAddress[]>();
  for (const node of nodes) {
    const members = byCluster.get(node.cluster) ?? [];
    members.push(node);
    byCluster.set(node.cluster, members);
  }
  const clusters = [...byCluster].map(([name, members]) => ({
    name,
    ...(options.targetWindow ? { targetWindow: options.targetWindow } : {}),
    connection: { user: options.user ?? 'gcache_advisor', passwordEnv: options.passwordEnv ?? DEFAULT_PASSWORD_ENV },
    nodes: members.map((n) => ({ name: n.name, host: n.host, port: n.port })),
  }));
  return YAML.stringify({ clusters, ...extra }, { lineWidth: 0, flowCollectionPadding: true, collectionStyle: 'any' });
}
