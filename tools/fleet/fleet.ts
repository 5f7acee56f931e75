/**
 * A simulated fleet: N clusters × M nodes, each node its own MySQL-protocol listener on a
 * loopback port (basePort + its index in the fleet), answering from the load model.
 *
 * File descriptors: every node costs one listening socket plus one per client connection, so a
 * fleet of N nodes sampled by one daemon holds about 2N descriptors in this process (and N in
 * the daemon). `startFleet` checks the soft limit (RLIMIT_NOFILE) before it opens anything and
 * says how to raise it; Node cannot raise its own limit, so the benchmark starts this process
 * under `ulimit -n` instead.
 */
import { FleetModel, type LoadModelOptions } from './load-model.js';
import { SimulatedNode, type Credentials } from './mysql-node.js';
import { fleetConfigYaml, type FleetNodeAddress, type FleetConfigOptions } from './config-yaml.js';
import { checkDescriptorBudget } from './fd-limit.js';

export interface FleetOptions extends LoadModelOptions {
  /** Listen address of every node. Default 127.0.0.1. */
  host?: string;
  /** Port of the fleet's first node; node i listens on basePort + i. Default 30000. */
  basePort?: number;
  /** When given, nodes accept only this user and password; otherwise anyone. */
  credentials?: Credentials;
}

export interface Fleet {
  nodes: FleetNodeAddress[];
  model: FleetModel;
  /** A gcache-advisor config for the whole fleet; `extra` keys are merged in at the top level. */
  configYaml(extra?: Record<string, unknown>, options?: FleetConfigOptions): string;
  /** Stops node i (by its index in `nodes`): its port refuses connections, open ones are dropped. */
  stopNode(i: number): Promise<void>;
  /** Starts node i again: a restart, so its counters and Uptime start from zero. */
  startNode(i: number): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_BASE_PORT = 30_000;

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const host = options.host ?? '127.0.0.1';
  const basePort = options.basePort ?? DEFAULT_BASE_PORT;
  const model = new FleetModel(options);
  const lastPort = basePort + model.nodes.length - 1;
  if (!Number.isInteger(basePort) || basePort < 1 || lastPort > 65535) {
    throw new RangeError(`basePort: ${model.nodes.length} nodes need ports ${basePort}..${lastPort}, which must lie within 1..65535`);
  }
  checkDescriptorBudget(model.nodes.length * 2 + 64, `a fleet of ${model.nodes.length} nodes (one listener and one connection each)`);
  const servers = model.nodes.map((node, i) => new SimulatedNode(node, model, host, basePort + i, options.credentials ?? null));
  try {
    // In slices: a thousand listen() calls at once is fine for the kernel, but an error report
    // should name the first port that failed, not a thousand.
    for (let i = 0; i < servers.length; i += 100) await Promise.all(servers.slice(i, i + 100).map((s) => s.listen()));
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  const nodes: FleetNodeAddress[] = servers.map((s) => ({ cluster: s.model.cluster, name: s.model.name, host: s.host, port: s.port }));
  const server = (i: number): SimulatedNode => {
    const s = servers[i];
    if (!s) throw new RangeError(`node index ${i}: expected 0..${servers.length - 1}`);
    return s;
  };
  return {
    nodes,
    model,
    configYaml: (extra = {}, configOptions = {}) => fleetConfigYaml(nodes, extra, configOptions),
    async stopNode(i) {
      const s = server(i);
      s.model.running = false;
      await s.close();
    },
    async startNode(i) {
      const s = server(i);
      if (s.listening) return;
      s.model.restart(Date.now());
      await s.listen();
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
