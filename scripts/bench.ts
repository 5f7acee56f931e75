/**
 * `npm run bench`: what the per-minute rollups buy, measured side by side on the same SQLite
 * file. A week of 10 s samples for 3 nodes is generated (the counters move like a steady load),
 * then the long-horizon rate (24 h, and 7 d) is computed both ways, many times:
 * - from raw samples: SELECT every sample of the horizon, sum the in-epoch deltas;
 * - from rollups: SELECT one row per minute, sum bytes and seconds.
 * Also times one full analysis cycle (three nodes, history in memory) as the daemon runs it.
 *
 *   npm run bench [-- --days 7 --runs 20]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Store, type StoredSample } from '../src/store/store.js';
import { sampleDelta } from '../src/sampler/epoch.js';
import { deltasOf, rateOf } from '../src/analysis/rates.js';
import { analyzeCluster, type NodeInput } from '../src/analysis/cluster-analysis.js';
import { toPoint } from '../src/pipeline/analyzer.js';

const { values } = parseArgs({ options: { days: { type: 'string', default: '7' }, runs: { type: 'string', default: '20' } } });
const days = Number(values.days);
const runs = Number(values.runs);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-bench-'));
const store = new Store(path.join(dir, 'bench.db'));
const nodes = ['node1', 'node2', 'node3'];
const intervalMs = 10_000;
const end = Date.UTC(2026, 10, 22);
const start = end - days * 86400_000;

console.log(`generating ${days} days of 10 s samples for ${nodes.length} nodes...`);
const t0 = performance.now();
const base = {
  received: 0,
  replicated: 0,
  localState: 'Synced',
  clusterStatus: 'Primary',
  clusterSize: 3,
  localStateUuid: 'u',
  clusterStateUuid: 'u',
  segment: 0,
  flowControlPaused: 0,
};
const last = new Map<string, StoredSample>();
store.transaction(() => {
  let seqno = 1;
  let bytes = 0;
  for (let t = start; t <= end; t += intervalMs) {
    const ws = 50 + Math.round(30 * Math.sin(t / 3600_000));
    seqno += ws;
    bytes += ws * 1800;
    for (const node of nodes) {
      const sample: StoredSample = {
        cluster: 'bench',
        node,
        takenAt: t,
        epoch: 1,
        durationMs: 1,
        status: {
          ...base,
          receivedBytes: bytes,
          replicatedBytes: 0,
          lastCommitted: seqno,
          cachedDownto: Math.max(1, seqno - 40_000),
          uptimeSeconds: Math.round((t - start) / 1000),
        },
      };
      const prev = last.get(node);
      store.recordSample(sample, prev ? sampleDelta({ takenAt: prev.takenAt, status: prev.status }, { takenAt: t, status: sample.status }) : null);
      last.set(node, sample);
    }
  }
});
console.log(`  ${nodes.reduce((n, node) => n + store.sampleCount('bench', node), 0)} samples in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

function time(label: string, fn: () => number): { label: string; ms: number; value: number } {
  fn(); // warm up
  const started = performance.now();
  let value = 0;
  for (let i = 0; i < runs; i++) value = fn();
  return { label, ms: (performance.now() - started) / runs, value };
}

for (const horizonDays of [1, Math.min(7, days)]) {
  const from = end - horizonDays * 86400_000;
  const raw = time(`${horizonDays} d rate from raw samples`, () => {
    const points = store.samples('bench', 'node1', from - intervalMs, end).map(toPoint);
    return rateOf(deltasOf(points, from, end))!.bytesPerSecond;
  });
  const rolled = time(`${horizonDays} d rate from rollups`, () => rateOf(store.rollups('bench', 'node1', from, end))!.bytesPerSecond);
  console.log(`\n${raw.label.padEnd(32)} ${raw.ms.toFixed(2).padStart(9)} ms   (${raw.value.toFixed(0)} B/s)`);
  console.log(`${rolled.label.padEnd(32)} ${rolled.ms.toFixed(2).padStart(9)} ms   (${rolled.value.toFixed(0)} B/s)`);
  console.log(`${'ratio raw / rollups'.padEnd(32)} ${(raw.ms / rolled.ms).toFixed(1).padStart(9)} x`);
}

// One analysis cycle as the daemon runs it: 2 days of history in memory per node, rollups of
// the 24 h horizon and 30 days of daily totals read from SQLite.
const memory = new Map(nodes.map((n) => [n, store.samples('bench', n, end - 2 * 86400_000, end).map(toPoint)]));
const cycle = time('one analysis cycle (3 nodes)', () => {
  const input: NodeInput[] = nodes.map((name) => ({
    name,
    points: memory.get(name)!,
    reachable: true,
    localState: 'Synced',
    clusterStatus: 'Primary',
    segment: 0,
    settings: { gcacheSizeBytes: 128 * 2 ** 20, pageSizeBytes: 128 * 2 ** 20, recover: true, sstDonor: '' },
    minutes: store.rollups('bench', name, end - 86400_000 - 60_000, end),
    trendMinutes: store.dailyTotals('bench', name, end - 30 * 86400_000),
    purgesSeen: 0,
  }));
  return analyzeCluster({ cluster: 'bench', now: end, targetWindowSeconds: 3600, shortHorizonSeconds: 300, longHorizonSeconds: 86400, nodes: input }).nodes.length;
});
console.log(`\n${cycle.label.padEnd(32)} ${cycle.ms.toFixed(2).padStart(9)} ms   (${runs} runs; the default cycle runs every 10 s)`);
store.close();
fs.rmSync(dir, { recursive: true, force: true });
