/**
 * Soak: the daemon (`serve`, a child process) against a simulated fleet (tools/fleet: real
 * MySQL-protocol listeners answering from a load model) for a while, with nodes restarted in
 * rotation all along (a stopped node drops its connections and refuses new ones; started again,
 * its counters and Uptime start from zero), a webhook sink taking the alerts that follow, and
 * /metrics and the API read as Prometheus and a dashboard would.
 *
 * Checked from outside the daemon, by its pid: the resident set and the event-loop delay (the
 * p99 the daemon logs with every cycle) are flat after warm-up (the median of the last third of
 * the run within 5% of the second third's), with a full garbage collection every 3 s in the
 * daemon (faults/full-gc.mjs: what is measured is what stays live), and no file descriptor leaks across the restarts:
 * once every node is back, the daemon holds one connection per node, as before, and nothing else
 * has piled up.
 *
 * CI runs the short variant (3 minutes, 30 nodes). The long one is the same file with
 *   SOAK_MINUTES=30 node --import tsx --test test/integration/faults-soak.test.ts
 * (300 nodes unless SOAK_CLUSTERS says otherwise; 3 nodes a cluster) and prints the figures.
 * SOAK_SCHEDULE sets the sampling schedule (default every 2 s).
 *
 * Ports: 26590 (webhook), 26600 + node index (the fleet, at most 400 nodes).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { sleep } from '../../tools/sandbox/galera-sandbox.ts';
import { startFleet, type Fleet } from '../../tools/fleet/fleet.ts';
import { memoryUse } from '../../tools/fleet/proc-stats.ts';
import { ADVISOR_USER, ADVISOR_PASSWORD, PASSWORD_ENV } from './helpers.ts';
import { SHIPPED_RULES, get, metricValue, nodesOf, waitFor } from './faults/common.ts';
import { DaemonChild } from './faults/daemon-child.ts';

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name}: expected a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

const MINUTES = envNumber('SOAK_MINUTES', 3, 1, 24 * 60);
const CLUSTERS = Math.round(envNumber('SOAK_CLUSTERS', MINUTES >= 10 ? 100 : 10, 1, 133));
const NODES_PER_CLUSTER = 3;
const SCHEDULE = process.env.SOAK_SCHEDULE || '*/2 * * * * *';
const FLEET_BASE_PORT = 26600;
const HOOK_PORT = 26590;
/** Preloaded into the daemon: a full garbage collection every 3 s (see the file). */
const FULL_GC = path.join(import.meta.dirname, 'faults', 'full-gc.mjs');
/** A rotation of restarts: every RESTART_EVERY_MS, a tenth of the fleet goes down for DOWN_MS. */
const RESTART_EVERY_MS = 15_000;
const DOWN_MS = 5_000;
/**
 * gcache.size of the simulated nodes: small, so that every window, and so the history the daemon
 * keeps for it, is about a minute at most and memory can settle within the warm-up. (The fastest
 * clusters then turn their ring over in under a second, faster than the sampling, and the model
 * gives a restarted node the cluster's current ring without an IST or SST: the daemon records
 * some resets and purges for them. This test is about resources, not about those events.)
 */
const GCACHE_BYTES = 128 * 1024;
/**
 * The daemon keeps every node's points for the short horizon (default 5m) or its window, whichever
 * is longer: what it holds grows until then by design. A run whose warm-up third is shorter than
 * 5 minutes uses a 1-minute short horizon, so that warm-up covers it.
 */
const SHORT_HORIZON = (MINUTES * 60) / 3 >= 300 ? null : '1m';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-faults-soak-'));
let fleet: Fleet | undefined;
let daemon: DaemonChild | undefined;
let hookServer: http.Server | undefined;

after(async () => {
  await daemon?.stop('SIGKILL');
  await fleet?.close();
  await new Promise((r) => (hookServer ? hookServer.close(r) : r(null)));
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Descriptors {
  total: number;
  /** TCP connections to a fleet node's port. */
  fleet: number;
  other: number;
}

/** The daemon's open descriptors, with its TCP connections to the fleet told apart (by socket inode, from its /proc/<pid>/net/tcp). */
function descriptors(pid: number, fleetPorts: Set<number>): Descriptors {
  const inodes = new Set<string>();
  for (const line of fs.readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const remotePort = parseInt(f[2]!.split(':')[1]!, 16);
    // 01: ESTABLISHED
    if (f[3] === '01' && fleetPorts.has(remotePort)) inodes.add(f[9]!);
  }
  let total = 0;
  let toFleet = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    total++;
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) toFleet++;
  }
  return { total, fleet: toFleet, other: total - toFleet };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
};

test(
  `soak: ${MINUTES} min against ${CLUSTERS * NODES_PER_CLUSTER} simulated nodes with restarts: memory and event-loop delay flat, no descriptor leak`,
  { timeout: (MINUTES + 5) * 60_000 },
  async () => {
    const nodeCount = CLUSTERS * NODES_PER_CLUSTER;
    assert.ok(nodeCount <= 400, `SOAK_CLUSTERS: at most 133 clusters (400 nodes on ports ${FLEET_BASE_PORT}-26999)`);
    let hooked = 0;
    hookServer = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hooked++;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hookServer!.listen(HOOK_PORT, '127.0.0.1', r));
    // The fleet began an hour ago: every gcache has wrapped, every node has a window from the start.
    fleet = await startFleet({
      clusters: CLUSTERS,
      nodesPerCluster: NODES_PER_CLUSTER,
      basePort: FLEET_BASE_PORT,
      origin: Date.now() - 3600_000,
      gcacheSize: GCACHE_BYTES,
      credentials: { user: ADVISOR_USER, password: ADVISOR_PASSWORD },
    });
    const fleetPorts = new Set(fleet.nodes.map((n) => n.port));
    const configFile = path.join(tmp, 'config.yaml');
    fs.writeFileSync(
      configFile,
      fleet.configYaml(
        {
          storage: { path: path.join(tmp, 'advisor.db') },
          http: { listen: '127.0.0.1:0' },
          sampling: { schedule: SCHEDULE, timeout: '2s' },
          ...(SHORT_HORIZON ? { horizons: { short: SHORT_HORIZON } } : {}),
          rules: { dir: SHIPPED_RULES },
          log: { level: 'debug' },
          alerting: { sinks: [{ name: 'hook', type: 'webhook', url: `http://127.0.0.1:${HOOK_PORT}/hook` }] },
        },
        { passwordEnv: PASSWORD_ENV },
      ),
    );
    daemon = DaemonChild.start(configFile, {
      [PASSWORD_ENV]: ADVISOR_PASSWORD,
      NODE_OPTIONS: [process.env.NODE_OPTIONS, '--expose-gc', `--import=${FULL_GC}`].filter(Boolean).join(' '),
    });
    const startedAt = Date.now();
    const url = await daemon.url();
    const allReachable = async () => (await Promise.all(fleet!.model.clusters.map((c) => nodesOf(url, c.name)))).flat().every((n) => n.reachable);
    await waitFor('every node sampled', allReachable, 60_000);
    await sleep(5000);
    const fdsBefore = descriptors(daemon.pid, fleetPorts);
    assert.equal(fdsBefore.fleet, nodeCount, `one connection per node before the restarts: ${JSON.stringify(fdsBefore)}`);

    const endAt = startedAt + MINUTES * 60_000;
    const rss: Array<{ at: number; bytes: number }> = [];
    const heap: Array<{ at: number; bytes: number }> = [];
    const scrapeFailures: string[] = [];
    let restarts = 0;
    let running = true;

    const watch = (async () => {
      while (running) {
        rss.push({ at: Date.now(), bytes: memoryUse(daemon!.pid).rssBytes });
        await sleep(2000);
      }
    })();
    // A Prometheus scrape every 5 s and a dashboard's reads of every cluster, as a daemon in service gets.
    const readers = (async () => {
      let k = 0;
      while (running) {
        try {
          const m = await get(url, '/metrics', 10_000);
          if (m.status !== 200) scrapeFailures.push(`/metrics ${m.status}`);
          const heapUsed = metricValue(m.text, 'nodejs_heap_size_used_bytes');
          if (heapUsed !== null) heap.push({ at: Date.now(), bytes: heapUsed });
          const c = fleet!.model.clusters[k++ % fleet!.model.clusters.length]!;
          const r = await get(url, `/api/v1/clusters/${c.name}/nodes/db1/window`, 10_000);
          if (r.status !== 200) scrapeFailures.push(`window ${r.status}`);
        } catch (err) {
          scrapeFailures.push((err as Error).message);
        }
        await sleep(5000);
      }
    })();
    // Restarts in rotation, from now until 20 s before the end (so that all are back for the count).
    const perRound = Math.max(1, Math.round(nodeCount / 10));
    let round = 0;
    while (Date.now() + RESTART_EVERY_MS + 20_000 < endAt) {
      const picked = Array.from({ length: perRound }, (_, j) => (round * perRound + j) % nodeCount);
      round++;
      for (const i of picked) await fleet.stopNode(i);
      await sleep(DOWN_MS);
      for (const i of picked) await fleet.startNode(i);
      restarts += picked.length;
      await sleep(RESTART_EVERY_MS - DOWN_MS);
    }
    await sleep(Math.max(0, endAt - Date.now()));
    running = false;
    await Promise.all([watch, readers]);

    // Every node back (a failing node is retried after a backoff of up to a few intervals), then the count.
    await waitFor('every node sampled again', allReachable, 90_000);
    await sleep(3000);
    const fdsAfter = descriptors(daemon.pid, fleetPorts);
    assert.equal(daemon.exit, null, `the daemon is still running: ${daemon.logText().slice(-2000)}`);

    // Thirds of the run, from the daemon's start: warm-up, second, last.
    const third = (endAt - startedAt) / 3;
    const inThird = <T extends { at: number }>(xs: T[], k: number) => xs.filter((x) => x.at >= startedAt + k * third && x.at < startedAt + (k + 1) * third);
    const cycles = daemon.records
      .filter((r) => r.msg === 'cycle done')
      .map((r) => ({ at: Date.parse(r.time), p99: Number(r.eventLoopDelayP99Ms), durationMs: Number(r.durationMs) }));
    const rss2 = median(inThird(rss, 1).map((x) => x.bytes));
    const rss3 = median(inThird(rss, 2).map((x) => x.bytes));
    const el2 = median(inThird(cycles, 1).map((c) => c.p99));
    const el3 = median(inThird(cycles, 2).map((c) => c.p99));
    const skipped = daemon.records.filter((r) => String(r.msg).startsWith('sampling cycle skipped')).length;
    const errors = daemon.records.filter((r) => r.level === 'error').map((r) => r.msg);
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    const figures = [
      `soak: ${MINUTES} min, ${nodeCount} simulated nodes (${CLUSTERS} clusters), schedule "${SCHEDULE}", short horizon ${SHORT_HORIZON ?? '5m'}, ${restarts} node restarts in ${round} rounds, ${hooked} webhook deliveries`,
      `  RSS median: second third ${mib(rss2)} MiB, last third ${mib(rss3)} MiB (${(((rss3 - rss2) / rss2) * 100).toFixed(1)}%); by third ${[0, 1, 2].map((k) => mib(median(inThird(rss, k).map((x) => x.bytes)))).join(' / ')} MiB; peak ${mib(Math.max(...rss.map((x) => x.bytes)))} MiB`,
      `  V8 heap used (nodejs_heap_size_used_bytes), median by third: ${[0, 1, 2].map((k) => mib(median(inThird(heap, k).map((x) => x.bytes)))).join(' / ')} MiB`,
      `  event-loop delay p99 per cycle, median: second third ${el2} ms, last third ${el3} ms; max ${Math.max(...cycles.map((c) => c.p99))} ms`,
      `  cycle duration median by third ${[0, 1, 2].map((k) => median(inThird(cycles, k).map((c) => c.durationMs))).join(' / ')} ms, max ${Math.max(...cycles.map((c) => c.durationMs))} ms; ${cycles.length} cycles, ${skipped} skipped`,
      `  descriptors before the restarts ${JSON.stringify(fdsBefore)}, after ${JSON.stringify(fdsAfter)}`,
      `  machine: ${os.cpus().length} CPUs, load average at the end ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} (other work on the machine shows here)`,
      `  error lines: ${errors.length}${errors.length ? ` (${[...new Set(errors)].join('; ')})` : ''}; failed reads of /metrics or the API: ${scrapeFailures.length}`,
    ];
    console.log(figures.map((l) => `# ${l}`).join('\n'));

    assert.ok(inThird(rss, 1).length >= 5 && inThird(cycles, 2).length >= 5, 'enough measurements in each third');
    assert.ok(rss3 <= rss2 * 1.05, `RSS grew from ${mib(rss2)} to ${mib(rss3)} MiB between the second and the last third`);
    // The delay's p99 is 10-15 ms here and moves by a few ms with whatever else the machine runs
    // (a CI run with other work beside it read 11.5 then 13.7 ms, with the cycle durations
    // falling): 5% of it is noise, so growth within 5 ms also counts as flat. A leak in the
    // cycle shows in the cycle durations, which must not grow either.
    assert.ok(el3 <= el2 * 1.05 || el3 - el2 <= 5, `event-loop delay p99 grew from ${el2} to ${el3} ms`);
    const dur2 = median(inThird(cycles, 1).map((c) => c.durationMs));
    const dur3 = median(inThird(cycles, 2).map((c) => c.durationMs));
    assert.ok(dur3 <= dur2 * 1.2 + 10, `cycle duration median grew from ${dur2} to ${dur3} ms`);
    assert.equal(fdsAfter.fleet, nodeCount, `one connection per node after the restarts: ${JSON.stringify(fdsAfter)}`);
    assert.ok(fdsAfter.other <= fdsBefore.other + 2, `other descriptors ${fdsBefore.other} → ${fdsAfter.other}`);
    assert.deepEqual(scrapeFailures, [], 'every read of /metrics and the API answered');
    assert.equal(skipped, 0, 'no sampling cycle skipped');
  },
);
