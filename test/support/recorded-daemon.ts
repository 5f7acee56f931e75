/**
 * The daemon's parts (real Sampler, Analyzer, CyclePipeline, rules, SQLite file in a new folder)
 * after playing the recorded run of test/fixtures/window-run.json (three Synced nodes, 8 MiB
 * gcaches, a load that changes every 30 s, a sample every 5 s), shifted to end a few seconds ago
 * so that default time ranges see it, with the HTTP app built on them. No MySQL: the readers
 * answer with the recorded statuses, or refuse the connection while `down` says a node is down.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { parseConfig, type Config } from '../../src/config/load.ts';
import { Store } from '../../src/store/store.ts';
import { Sampler, type ReaderFactory } from '../../src/sampler/sampler.ts';
import type { NodeStatus } from '../../src/sampler/status.ts';
import { Analyzer } from '../../src/pipeline/analyzer.ts';
import { CyclePipeline } from '../../src/pipeline/cycle.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { RuleEngine } from '../../src/rules/engine.ts';
import { Outbox } from '../../src/alerts/outbox.ts';
import { buildServer, type ServerDeps } from '../../src/http/app.ts';
import { createLogger } from '../../src/log/logger.ts';

interface RecordedRun {
  settings: Record<string, { sizeBytes: number; pageSizeBytes: number; keepPagesSizeBytes: number; recover: boolean; segment: number; sstDonor: string }>;
  nodes: Record<string, Array<{ takenAt: number; status: NodeStatus }>>;
}

const run = JSON.parse(fs.readFileSync(new URL('../fixtures/window-run.json', import.meta.url), 'utf8')) as RecordedRun;
export const RECORDED_NODES = Object.keys(run.nodes);
export const RECORDED_CYCLES = Math.min(...Object.values(run.nodes).map((s) => s.length));

export interface RecordedDaemonOptions {
  /** Cycles to play (all of them by default). */
  cycles?: number;
  /** Whether `node` refuses connections at cycle `cycle`. */
  down?: (node: string, cycle: number) => boolean;
  /** The bearer token the API then requires. */
  token?: string;
}

export interface RecordedDaemon {
  deps: ServerDeps;
  app: FastifyInstance;
  dir: string;
  /** Closes the app and the store, and removes the folder. */
  close(): Promise<void>;
}

/** The config of cluster "accuracy" with the recorded nodes, storage in `dir`, the project's rules. */
export function recordedConfig(dir: string, token?: string): Config {
  return parseConfig(
    `clusters:
  - name: accuracy
    connection: { user: u, passwordEnv: PW }
    nodes: [${RECORDED_NODES.map((n) => `{ name: ${n}, host: 127.0.0.1 }`).join(', ')}]
storage: { path: ${path.join(dir, 'ga.db')} }
rules: { dir: ${path.join(import.meta.dirname, '..', '..', 'rules')} }
http: { listen: 127.0.0.1:0${token ? ', tokenEnv: TOKEN' : ''} }
`,
    'recorded-daemon.yaml',
    { PW: 'pw-for-test', ...(token ? { TOKEN: token } : {}) },
  );
}

export async function recordedDaemon(opts: RecordedDaemonOptions = {}): Promise<RecordedDaemon> {
  const cycles = opts.cycles ?? RECORDED_CYCLES;
  const down = opts.down ?? (() => false);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-recorded-'));
  const config = recordedConfig(dir, opts.token);
  const store = new Store(config.storage.path);
  const log = createLogger({ level: 'error', write: () => undefined });
  const shift = Date.now() - 5000 - Math.max(...RECORDED_NODES.map((n) => run.nodes[n]![RECORDED_CYCLES - 1]!.takenAt));
  let cycle = 0;
  let clock = run.nodes.node1![0]!.takenAt + shift;
  const now = () => clock;
  const readers: ReaderFactory = (target) => ({
    readStatus: async () => {
      if (down(target.name, cycle)) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' });
      // A node that is down has left the group: the others count it no more.
      const status = run.nodes[target.name]![cycle]!.status;
      const gone = RECORDED_NODES.filter((n) => down(n, cycle)).length;
      return { ...status, clusterSize: status.clusterSize - gone };
    },
    readSettings: async () => {
      const { sstDonor, ...gcache } = run.settings[target.name]!;
      return { gcache, sstDonor };
    },
    close: async () => undefined,
  });
  // No backoff: a node that was down is tried again at the next cycle.
  const sampler = new Sampler(config, store, log, { now, readerFactory: readers, backoff: { initialMs: 0, maxMs: 0, jitter: 0 } });
  const metrics = new Metrics('test');
  metrics.declareNodes(config);
  const engine = RuleEngine.fromConfig(config, store, log);
  const analyzer = new Analyzer(config, store, log, now);
  const pipeline = new CyclePipeline({
    config,
    store,
    analyzer,
    metrics,
    engine,
    outbox: new Outbox(store, new Map(), log, { expireAfterMs: 86400_000 }),
    log,
    skippedCycles: () => 0,
    now,
  });
  for (cycle = 0; cycle < cycles; cycle++) {
    clock = run.nodes.node1![cycle]!.takenAt + shift;
    await pipeline.run((await sampler.runCycle())!);
  }
  await sampler.stop();
  pipeline.close();
  const deps: ServerDeps = {
    config,
    store,
    analyzer,
    metrics,
    engine,
    log,
    version: 'test',
    health: { lastSampleAt: () => pipeline.lastSampleAt, expectedIntervalMs: () => pipeline.expectedIntervalMs() },
  };
  const app = await buildServer(deps);
  return {
    deps,
    app,
    dir,
    close: async () => {
      await app.close();
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
