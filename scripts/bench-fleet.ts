/**
 * The fleet benchmark: the real daemon (compiled, in its own process) against a simulated fleet
 * (in another process, so its CPU is not the daemon's), with days of history seeded into its
 * database first, measured from outside:
 *
 *   npm run bench:fleet -- --nodes 1000 --history 7d --duration 3m [--interval 10s] [--rest-rate 200]
 *
 * Prints a table and one JSON line (`"bench":"fleet"`). Everything it starts it stops, on
 * success, on errors and on Ctrl-C. See `--help`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseDuration, parseSize } from '../src/units/parse.js';
import type { Store as StoreClass } from '../src/store/store.js';
import { FleetModel } from '../tools/fleet/load-model.js';
import { seedHistory, type SeedResult } from '../tools/fleet/seed.js';
import { fleetConfigYaml, DEFAULT_PASSWORD_ENV, type FleetNodeAddress } from '../tools/fleet/config-yaml.js';
import { ensureBuild, type BuildMode } from '../tools/fleet/build.js';
import { startChild, type Child } from '../tools/fleet/child.js';
import { withDescriptorLimit } from '../tools/fleet/fd-limit.js';
import { DaemonLog, type CycleRecord } from '../tools/fleet/daemon-log.js';
import { MetricsScraper, unlabelledValue } from '../tools/fleet/metrics-scraper.js';
import { startRestLoad, type RestLoad } from '../tools/fleet/rest-load.js';
import { cpuModel, cpuSeconds, memoryUse } from '../tools/fleet/proc-stats.js';
import { usedDatabaseBytes } from '../tools/fleet/db-size.js';
import { max, percentile } from '../tools/fleet/stats.js';
import { formatDuration, formatJsonLine, formatTable, type BenchFigures } from '../tools/fleet/bench-report.js';
import { parseAssignments, shippedRuntimeTuning } from '../tools/fleet/image-env.js';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `usage: npm run bench:fleet -- [options]

  --nodes N              nodes to simulate, rounded up to whole clusters (default 30)
  --nodes-per-cluster M  (default 3)
  --history D            history seeded into the database first, e.g. 1d, 7d (default 1d; 0s for none)
  --duration D           how long to measure after the warm-up (default 3m)
  --interval D           sampling interval: seconds dividing 60, or minutes dividing 60 (default 10s)
  --rest-rate R          REST requests per second during the measurement (default 200)
  --port P               the simulated fleet's first port; node i listens on P + i (default 30000)
  --seed S               load model seed (default 1)
  --gcache-size SIZE     every node's gcache.size (default 128M)
  --warmup-cycles N      completed cycles before measuring (default 2)
  --root DIR             the checkout whose daemon to measure (default: this one); it must have
                         node_modules (a symlink will do)
  --build auto|always|never   build dist/ first: when a source is newer (default), always, or never
  --keep                 keep the temporary folder (config, database, daemon log)
  --node-flags="F ..."   flags for the daemon's Node.js only, e.g. --node-flags="--max-semi-space-size=4"
                         (default: those the Dockerfile ships, read from its ENV NODE_OPTIONS;
                         "" for none)
  --daemon-env="K=V ..." environment variables for the daemon only, e.g. --daemon-env="MALLOC_ARENA_MAX=2"
                         (default: the runtime tuning the Dockerfile ships, such as its
                         MALLOC_ARENA_MAX; "" for none)
`;

/** The daemon's default raw retention: the seeded raw samples stay inside it (see seedForRun). */
const RAW_RETENTION_SECONDS = 2 * 86_400;
const PASSWORD = 'fleet-bench-password';
const say = (line: string): void => void process.stderr.write(`bench:fleet: ${line}\n`);

class UsageError extends Error {}

interface Options {
  nodes: number;
  nodesPerCluster: number;
  historySeconds: number;
  durationSeconds: number;
  intervalSeconds: number;
  restRate: number;
  port: number;
  seed: number;
  gcacheSize: number;
  warmupCycles: number;
  root: string;
  build: BuildMode;
  keep: boolean;
  nodeFlags: string[];
  daemonEnv: Record<string, string>;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string' },
      'nodes-per-cluster': { type: 'string' },
      history: { type: 'string' },
      duration: { type: 'string' },
      interval: { type: 'string' },
      'rest-rate': { type: 'string' },
      port: { type: 'string' },
      seed: { type: 'string' },
      'gcache-size': { type: 'string' },
      'warmup-cycles': { type: 'string' },
      root: { type: 'string' },
      build: { type: 'string' },
      keep: { type: 'boolean' },
      'node-flags': { type: 'string' },
      'daemon-env': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = (name: string, value: string | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected a whole number of at least ${min}, got "${value}"`);
    return n;
  };
  const duration = (name: string, value: string | undefined, fallback: string): number => {
    try {
      return parseDuration(value ?? fallback);
    } catch (err) {
      throw new UsageError(`--${name}: ${(err as Error).message}`);
    }
  };
  const intervalSeconds = duration('interval', values.interval, '10s');
  cronFor(intervalSeconds); // validates
  const durationSeconds = duration('duration', values.duration, '3m');
  if (durationSeconds < intervalSeconds) throw new UsageError(`--duration: expected at least one sampling interval (${formatDuration(intervalSeconds)}), got "${values.duration}"`);
  const build = values.build ?? 'auto';
  if (build !== 'auto' && build !== 'always' && build !== 'never') throw new UsageError(`--build: expected auto, always or never, got "${build}"`);
  let gcacheSize: number;
  try {
    gcacheSize = parseSize(values['gcache-size'] ?? '128M');
  } catch (err) {
    throw new UsageError(`--gcache-size: ${(err as Error).message}`);
  }
  const restRate = values['rest-rate'] === undefined ? 200 : Number(values['rest-rate']);
  if (!Number.isInteger(restRate) || restRate < 1) throw new UsageError(`--rest-rate: expected a whole number of requests per second of at least 1, got "${values['rest-rate']}"`);
  const root = path.resolve(values.root ?? HERE);
  if (!fs.existsSync(path.join(root, 'src', 'store', 'store.ts'))) throw new UsageError(`--root: ${root} is not a gcache-advisor checkout (no src/store/store.ts)`);
  const shipped = shippedRuntimeTuning(root);
  const nodeFlags = (values['node-flags'] ?? shipped.nodeFlags).split(/\s+/).filter((f) => f !== '');
  for (const flag of nodeFlags) if (!flag.startsWith('--')) throw new UsageError(`--node-flags: expected flags such as --max-semi-space-size=4, got "${flag}"`);
  const daemonEnv = values['daemon-env'] === undefined ? shipped.env : parseDaemonEnv(values['daemon-env']);
  return {
    nodes: int('nodes', values.nodes, 30, 1),
    nodesPerCluster: int('nodes-per-cluster', values['nodes-per-cluster'], 3, 1),
    historySeconds: duration('history', values.history, '1d'),
    durationSeconds,
    intervalSeconds,
    restRate,
    port: int('port', values.port, 30_000, 1),
    seed: int('seed', values.seed, 1, 0),
    gcacheSize,
    warmupCycles: int('warmup-cycles', values['warmup-cycles'], 2, 1),
    root,
    build,
    keep: values.keep ?? false,
    nodeFlags,
    daemonEnv,
  };
}

function parseDaemonEnv(value: string): Record<string, string> {
  const { env, invalid } = parseAssignments(value);
  if (invalid.length > 0) throw new UsageError(`--daemon-env: expected NAME=VALUE pairs such as MALLOC_ARENA_MAX=2, got "${invalid[0]}"`);
  return env;
}

/** node-cron's six-field schedule for an interval that divides a minute or an hour evenly. */
function cronFor(seconds: number): string {
  if (Number.isInteger(seconds) && seconds >= 1 && seconds < 60 && 60 % seconds === 0) return `*/${seconds} * * * * *`;
  const minutes = seconds / 60;
  if (Number.isInteger(minutes) && minutes >= 1 && minutes <= 60 && 60 % minutes === 0) return `0 */${minutes} * * * *`;
  throw new UsageError(`--interval: expected seconds that divide 60 (5s, 10s, 30s) or minutes that divide 60 (1m, 5m), got ${seconds} s`);
}

/** Things to undo, newest first; run once whether the benchmark ends well, fails, or is interrupted. */
class Cleanup {
  private readonly steps: Array<[string, () => Promise<unknown> | unknown]> = [];
  private running: Promise<void> | null = null;

  add(what: string, step: () => Promise<unknown> | unknown): void {
    this.steps.push([what, step]);
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const [what, step] of this.steps.reverse()) {
        try {
          await step();
        } catch (err) {
          say(`cleanup: ${what}: ${(err as Error).message}`);
        }
      }
    })();
    return this.running;
  }
}

/**
 * Seeds `historySeconds` of history with the root's own Store (its schema is the daemon's).
 * The raw samples start an hour plus the run's length inside the raw retention, so the daemon's
 * retention deletes nothing while it is measured: the growth measured is what sampling adds.
 */
async function seedForRun(o: Options, dbFile: string, model: FleetModel, now: number, runSeconds: number): Promise<SeedResult> {
  if (o.historySeconds === 0) return { samples: 0, rollupOnlySamples: 0, seconds: 0 };
  const storeModule = (await import(pathToFileURL(path.join(o.root, 'src', 'store', 'store.ts')).href)) as { Store: typeof StoreClass };
  // The seeding connection's own page cache: a bulk load outgrows the daemon's small one at once.
  const store = new storeModule.Store(dbFile, { cacheSizeBytes: 256 * 1024 * 1024 });
  try {
    return await seedHistory(store, model.nodes, o.historySeconds, o.intervalSeconds, now, RAW_RETENTION_SECONDS - 3600 - runSeconds);
  } finally {
    store.close();
  }
}

async function startSimulator(o: Options, clusters: number, origin: number, tmp: string, cleanup: Cleanup): Promise<{ child: Child; nodes: FleetNodeAddress[] }> {
  const argv = [
    process.execPath,
    '--import',
    'tsx',
    path.join(HERE, 'tools', 'fleet', 'cli.ts'),
    ...['--clusters', String(clusters), '--nodes', String(o.nodesPerCluster), '--port', String(o.port), '--seed', String(o.seed)],
    ...['--since', String(origin), '--gcache-size', String(o.gcacheSize), '--user', 'gcache_advisor', '--password-env', DEFAULT_PASSWORD_ENV, '--stdin'],
  ];
  const errFile = path.join(tmp, 'simulator.log');
  const child = startChild('simulator', withDescriptorLimit(argv, clusters * o.nodesPerCluster * 2 + 256), {
    cwd: HERE,
    env: { ...process.env, [DEFAULT_PASSWORD_ENV]: PASSWORD },
    stdio: ['pipe', 'pipe', fs.openSync(errFile, 'w')],
  });
  // Closing its stdin stops it too: a benchmark killed with -9 leaves no fleet behind.
  cleanup.add('stop the simulator', async () => {
    child.process.stdin?.end();
    await child.stop();
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`the simulator printed no node list within 120 s (see ${errFile})`)), 120_000);
    child.process.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(buffer.slice(0, end));
      }
    });
    void child.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the simulator exited: ${fs.readFileSync(errFile, 'utf8').trim().slice(0, 2000)}`));
    });
  });
  child.process.stdout!.resume();
  const { nodes } = JSON.parse(firstLine) as { nodes: FleetNodeAddress[] };
  return { child, nodes };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function run(o: Options, cleanup: Cleanup): Promise<BenchFigures> {
  const clusters = Math.ceil(o.nodes / o.nodesPerCluster);
  const nodeCount = clusters * o.nodesPerCluster;
  say(
    `${nodeCount} nodes (${clusters} clusters × ${o.nodesPerCluster}), ${formatDuration(o.historySeconds)} of history, measuring ${formatDuration(o.durationSeconds)} at ${formatDuration(o.intervalSeconds)} sampling, REST at ${o.restRate}/s`,
  );
  const entry = ensureBuild(o.root, o.build, say);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gcache-fleet-bench-'));
  cleanup.add('remove the temporary folder', () => (o.keep ? say(`kept ${tmp}`) : fs.rmSync(tmp, { recursive: true, force: true })));
  const dbFile = path.join(tmp, 'gcache-advisor.db');

  // One origin for the seeded history and the live fleet: the daemon sees one continuous epoch.
  const now = Date.now();
  const origin = now - o.historySeconds * 1000;
  const model = new FleetModel({ clusters, nodesPerCluster: o.nodesPerCluster, seed: o.seed, origin, gcacheSize: o.gcacheSize });
  say(`seeding ${formatDuration(o.historySeconds)} of history for ${nodeCount} nodes…`);
  const seeding = await seedForRun(o, dbFile, model, now, o.durationSeconds + 600);
  say(`seeded ${seeding.samples.toLocaleString('en')} samples and ${seeding.rollupOnlySamples.toLocaleString('en')} per-minute ones in ${seeding.seconds.toFixed(1)} s`);
  if (seeding.samples > 0) {
    // The seeding leaves gigabytes of dirty pages behind (7 d at 1,000 nodes): written back while
    // the daemon runs, they would stall its writes, and that is the seeding's cost, not the daemon's.
    const syncStarted = performance.now();
    execFileSync('sync');
    say(`flushed the seeded database to disk in ${((performance.now() - syncStarted) / 1000).toFixed(1)} s`);
  }

  const simulator = await startSimulator(o, clusters, origin, tmp, cleanup);
  say(`simulator pid ${simulator.child.pid} listens on ports ${o.port}..${o.port + nodeCount - 1}`);

  const configFile = path.join(tmp, 'config.yaml');
  fs.writeFileSync(
    configFile,
    fleetConfigYaml(simulator.nodes, {
      sampling: { schedule: cronFor(o.intervalSeconds), timeout: '5s' },
      storage: { path: dbFile },
      http: { listen: '127.0.0.1:0' },
      log: { level: 'debug' },
      rules: { dir: path.join(o.root, 'rules') },
    }),
  );
  const daemonStarted = Date.now();
  const daemon = startChild('daemon', withDescriptorLimit([process.execPath, ...o.nodeFlags, entry, 'serve', '-c', configFile], nodeCount + 256), {
    cwd: tmp,
    env: { ...process.env, ...o.daemonEnv, [DEFAULT_PASSWORD_ENV]: PASSWORD },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log = new DaemonLog(daemon.process.stderr!, path.join(tmp, 'daemon.log'));
  cleanup.add('stop the daemon', async () => {
    const exit = await daemon.stop(30_000);
    if (exit.signal === 'SIGKILL') say('the daemon did not stop within 30 s of SIGTERM and was killed');
    else if (exit.code !== 0 && exit.signal === null) say(`the daemon exited with code ${exit.code} when stopped`);
    await log.close();
  });
  say(`daemon pid ${daemon.pid}; log ${log.file}${o.keep ? '' : ' (pass --keep to keep it)'}`);
  // Loading days of history can take minutes at a thousand nodes.
  const startupTimeoutMs = Math.max(600_000, o.intervalSeconds * 1000 * (o.warmupCycles + 2));
  await log.waitFor(() => log.url !== null, startupTimeoutMs, 'daemon listening', daemon.exited);
  await log.waitFor(() => log.cycles.length >= o.warmupCycles, startupTimeoutMs, `${o.warmupCycles} warm-up cycles`, daemon.exited);
  const startupSeconds = (Date.now() - daemonStarted) / 1000;
  const baseUrl = log.url!.replace(/\/$/, '');
  say(`warm after ${startupSeconds.toFixed(1)} s; measuring for ${formatDuration(o.durationSeconds)}…`);

  // --- measurement ---
  const dbSizes: Array<{ at: number; bytes: number }> = [];
  log.onCycle = (cycle) => {
    try {
      dbSizes.push({ at: cycle.at, bytes: usedDatabaseBytes(dbFile) });
    } catch (err) {
      say(`could not read the database size after a cycle: ${(err as Error).message}`);
    }
  };
  const cyclesBefore = log.cycles.length;
  const t0 = Date.now();
  const load0 = os.loadavg()[0]!;
  const cpu0 = cpuSeconds(daemon.pid);
  const simCpu0 = cpuSeconds(simulator.child.pid);
  const db0 = usedDatabaseBytes(dbFile);
  const scraper = new MetricsScraper(`${baseUrl}/metrics`);
  scraper.start();
  cleanup.add('stop scraping', () => scraper.stop());
  let restLoad: RestLoad | null = startRestLoad({ baseUrl, nodes: simulator.nodes, ratePerSecond: o.restRate, durationSeconds: o.durationSeconds });
  cleanup.add('stop the REST load', () => restLoad?.stop());
  const died = daemon.exited.then((exit) => {
    throw new Error(`the daemon exited during the measurement (code ${exit.code}, signal ${exit.signal}); last log lines:\n${log.lastLines()}`);
  });
  died.catch(() => undefined); // raced below; once measured, the daemon's planned stop is no error
  const rest = await Promise.race([restLoad.done, died]);
  restLoad = null;
  await Promise.race([sleep(Math.max(0, t0 + o.durationSeconds * 1000 - Date.now())), died]);
  const t1 = Date.now();
  const load1 = os.loadavg()[0]!;
  const cpu1 = cpuSeconds(daemon.pid);
  const simCpu1 = cpuSeconds(simulator.child.pid);
  const memory = memoryUse(daemon.pid);
  const db1 = usedDatabaseBytes(dbFile);
  log.onCycle = null;
  const scrapes = await scraper.stop();
  const seconds = (t1 - t0) / 1000;

  const measured = log.cycles.slice(cyclesBefore).filter((c) => c.at <= t1);
  const loopDelays = measured.map((c) => c.eventLoopDelayP99Ms).filter((v): v is number => v !== null);
  // Database growth between the first and the last cycle measured, per cycle: each cycle writes at
  // once, so sizes read between cycles would count one more or less; and per cycle rather than per
  // second, because a daemon that falls behind runs fewer cycles and writes less a day, which is
  // no saving. Over the whole period only when fewer than two cycles were seen.
  const sizes = dbSizes.filter((s) => s.at <= t1);
  const growthPerCycle = sizes.length >= 2 ? (sizes.at(-1)!.bytes - sizes[0]!.bytes) / (sizes.length - 1) : ((db1 - db0) / seconds) * o.intervalSeconds;
  const inPeriod = (times: number[]) => times.filter((at) => at >= t0 && at <= t1).length;
  const skippedByDaemon = inPeriod(log.skipped);
  const missedTicks = inPeriod(log.missedTicks);

  return {
    bench: 'fleet',
    machine: { cpu: cpuModel(), cores: os.cpus().length, node: process.version, daemonNodeFlags: o.nodeFlags, daemonEnv: o.daemonEnv, loadAverage: { start: load0, end: load1 } },
    nodes: nodeCount,
    clusters,
    nodesPerCluster: o.nodesPerCluster,
    historySeconds: o.historySeconds,
    intervalSeconds: o.intervalSeconds,
    measuredSeconds: seconds,
    seeding,
    startupSeconds,
    daemonCpuShare: (cpu1 - cpu0) / seconds,
    simulatorCpuShare: (simCpu1 - simCpu0) / seconds,
    rssBytes: memory.rssBytes,
    fileBackedRssBytes: memory.fileBackedBytes,
    peakRssBytes: memory.peakRssBytes,
    memory: {
      heapUsedBytes: unlabelledValue(scraper.lastText ?? '', 'nodejs_heap_size_used_bytes'),
      heapTotalBytes: unlabelledValue(scraper.lastText ?? '', 'nodejs_heap_size_total_bytes'),
      externalBytes: unlabelledValue(scraper.lastText ?? '', 'nodejs_external_memory_bytes'),
      analysisStateBytes: measured.at(-1)?.analysisStateBytes ?? null,
    },
    cycles: {
      count: measured.length,
      p50Ms: percentile(
        measured.map((c) => c.durationMs),
        50,
      ),
      p99Ms: percentile(
        measured.map((c) => c.durationMs),
        99,
      ),
      ticks: Math.floor(seconds / o.intervalSeconds),
      skipped: skippedByDaemon + missedTicks,
      skippedByDaemon,
      missedTicks,
      skippedSinceStart: log.skipped.length + log.missedTicks.length,
    },
    eventLoopDelayP99Ms: max(loopDelays),
    eventLoopDelayMaxMs: max(measured.map((c) => c.eventLoopDelayMaxMs).filter((v): v is number => v !== null)),
    longestStepMs: longestSteps(measured),
    metrics: {
      scrapes: scrapes.latenciesMs.length,
      p50Ms: percentile(scrapes.latenciesMs, 50),
      p99Ms: percentile(scrapes.latenciesMs, 99),
      bytes: scrapes.sizes.at(-1) ?? null,
      textBytes: scraper.lastText === null ? null : Buffer.byteLength(scraper.lastText),
      failures: scrapes.failures.length,
      firstFailure: scrapes.failures[0] ?? null,
    },
    rest: {
      targetRate: o.restRate,
      achievedRate: rest.achievedRate,
      requests: rest.requests,
      p50Ms: rest.latencyP50Ms,
      p99Ms: rest.latencyP99Ms,
      maxMs: rest.latencyMaxMs,
      non2xx: rest.non2xx,
      errors: rest.errors,
    },
    dbGrowthBytesPerNodeDay: (growthPerCycle * (86_400 / o.intervalSeconds)) / nodeCount,
    daemonErrors: log.errors.length,
  };
}

async function main(): Promise<number> {
  let options: Options | null;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench:fleet: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!options) {
    process.stdout.write(USAGE);
    return 0;
  }
  const cleanup = new Cleanup();
  const interrupted = new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      say(`${signal}: stopping everything`);
      void cleanup.run().then(() => resolve(130));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const finished = run(options, cleanup).then(
    async (figures) => {
      await cleanup.run();
      process.stdout.write(`\n${formatTable(figures)}\n\n${formatJsonLine(figures)}\n`);
      return 0;
    },
    async (err: Error) => {
      say(`failed: ${err.message}`);
      await cleanup.run();
      return 1;
    },
  );
  return Promise.race([finished, interrupted]);
}

void main().then((code) => process.exit(code));

/** The longest each cycle step held the event loop, over the cycles measured. */
function longestSteps(cycles: readonly CycleRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of cycles) for (const [step, ms] of Object.entries(c.longestStepMs)) out[step] = Math.max(out[step] ?? 0, ms);
  return out;
}
