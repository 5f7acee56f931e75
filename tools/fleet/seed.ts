/**
 * Seeds a gcache-advisor database with the history a daemon would have stored for a fleet, from
 * the same load model the simulator answers from, so the daemon started afterwards carries on in
 * the same counter epoch as if it had been running all along.
 *
 * All seeding goes through this one function and the Store's own API, so that a change of the
 * Store's API means changing this function only.
 */
import type { Store, StoredSample } from '../../src/store/store.js';
import { sampleDelta } from '../../src/sampler/epoch.js';
import type { ModelNode } from './load-model.js';

/** Samples per transaction: big enough that commits cost nothing, small enough to keep the WAL modest. */
const SAMPLES_PER_TRANSACTION = 50_000;
/** Spacing of the history older than the raw retention: only its per-minute rollups outlive it. */
const ROLLUP_SPACING_MS = 60_000;
const DEFAULT_RAW_RETENTION_SECONDS = 2 * 86_400;

export interface SeedResult {
  /** Raw samples left in the store (within the raw retention). */
  samples: number;
  /** Samples written at one per minute beyond the raw retention, for their rollups, then deleted. */
  rollupOnlySamples: number;
  seconds: number;
}

/**
 * `historySeconds` of history up to `now` (ms) for every node: a sample every `intervalSeconds`
 * within the raw retention, and beyond it one sample per minute whose raw rows the store's own
 * retention then removes, leaving the per-minute rollups a long-running daemon would have. Each
 * node's gcache settings are stored for its epoch, as the sampler does. Asynchronous only in
 * that it yields between transactions.
 */
export async function seedHistory(
  store: Store,
  nodes: ReadonlyArray<ModelNode>,
  historySeconds: number,
  intervalSeconds: number,
  now: number,
  rawRetentionSeconds: number = DEFAULT_RAW_RETENTION_SECONDS,
): Promise<SeedResult> {
  const started = performance.now();
  const from = now - historySeconds * 1000;
  const rawFrom = Math.max(from, now - rawRetentionSeconds * 1000);
  const times: number[] = [];
  for (let t = from; t < rawFrom; t += ROLLUP_SPACING_MS) times.push(t);
  const rollupOnly = times.length;
  for (let t = rawFrom; t <= now; t += intervalSeconds * 1000) times.push(t);
  const epoch = 1;

  store.transaction(() => {
    for (const node of nodes) store.recordSettings({ cluster: node.cluster, node: node.name, epoch, readAt: from, sstDonor: '', ...node.gcacheSettings() });
  });
  // Time by time, every node at each, as the daemon writes: each index then grows at a few
  // places at once, which stays in the page cache, where node by node scatters inserts over the
  // whole time index (at a thousand nodes and a day that took 40% longer, and more with more history).
  const previous = new Map<ModelNode, StoredSample>();
  const seedTimes = (batch: ReadonlyArray<number>) =>
    store.transaction(() => {
      for (const takenAt of batch) {
        for (const node of nodes) {
          const sample: StoredSample = { cluster: node.cluster, node: node.name, takenAt, epoch, durationMs: 1, status: node.statusAt(takenAt) };
          const prev = previous.get(node);
          store.recordSample(sample, prev ? sampleDelta(prev, sample) : null);
          previous.set(node, sample);
        }
      }
    });
  const timesPerTransaction = Math.max(1, Math.floor(SAMPLES_PER_TRANSACTION / Math.max(1, nodes.length)));
  for (let i = 0; i < times.length; i += timesPerTransaction) {
    seedTimes(times.slice(i, i + timesPerTransaction));
    // Between transactions, let signals (Ctrl-C) and timers in: seeding a fleet takes minutes.
    await new Promise((resolve) => setImmediate(resolve));
  }
  // The raw samples older than the raw retention were only there to build their rollups.
  if (rollupOnly > 0) store.applyRetention(now, rawRetentionSeconds, Math.max(90 * 86_400, historySeconds + 86_400));
  return { samples: (times.length - rollupOnly) * nodes.length, rollupOnlySamples: rollupOnly * nodes.length, seconds: (performance.now() - started) / 1000 };
}
