/**
 * Analyses of samples recorded from a real cluster: the run of test/fixtures/window-run.json
 * (three Synced nodes, 8 MiB gcaches, a load that changes every 30 s, a sample every 5 s). Either
 * fed cycle by cycle to the daemon's own Analyzer with one node's reads failing over a span of
 * cycles, as if it were down (the other nodes' rings, the cluster's writes and the countdown are
 * all the real ones), or analysed from scratch at one instant with a given calibration.
 */
import fs from 'node:fs';
import { parseConfig, type Config } from '../../src/config/load.ts';
import { Store, type StoredEvent, type StoredSample } from '../../src/store/store.ts';
import type { NodeStatus } from '../../src/sampler/status.ts';
import { Analyzer } from '../../src/pipeline/analyzer.ts';
import { createLogger } from '../../src/log/logger.ts';
import { analyzeCluster, type ClusterAnalysis, type NodeInput } from '../../src/analysis/cluster-analysis.ts';
import { toPoint } from '../../src/pipeline/node-history.ts';
import { byteSeriesOf, type ByteSeries } from '../../src/analysis/write-history.ts';
import type { Calibration } from '../../src/analysis/forecast.ts';
import type { CycleResult, NodeOutcome } from '../../src/sampler/sampler.ts';

type Sample = Pick<StoredSample, 'takenAt' | 'epoch' | 'status'>;
interface Run {
  intervalMs: number;
  settings: Record<string, { sizeBytes: number; pageSizeBytes: number; keepPagesSizeBytes: number; recover: boolean; segment: number; sstDonor: string }>;
  nodes: Record<string, Sample[]>;
}

export const recordedRun = JSON.parse(fs.readFileSync(new URL('../fixtures/window-run.json', import.meta.url), 'utf8')) as Run;
export const RECORDED_CYCLES = Math.min(...Object.values(recordedRun.nodes).map((s) => s.length));

export interface ReplayedCycle {
  index: number;
  now: number;
  analysis: ClusterAnalysis;
  /** Events of the cycle (rejoins among them). */
  events: StoredEvent[];
  /** Consecutive failed reads of each node so far. */
  missedCycles: Record<string, number>;
}

export function replayConfig(): Config {
  const names = Object.keys(recordedRun.nodes);
  return parseConfig(
    `clusters:\n  - name: c\n    connection: { user: u, passwordEnv: PW }\n    nodes:\n${names.map((n) => `      - { name: ${n}, host: 127.0.0.1 }`).join('\n')}\nstorage: { path: ':memory:' }\n`,
    'away-replay.yaml',
    { PW: 'x' },
  );
}

/** Every cycle of the run, `node` unreadable from cycle `from` until before cycle `until` (to the end when absent), and gone from the group meanwhile. */
export function replayWithAbsence(node: string, from: number, until = Number.POSITIVE_INFINITY): ReplayedCycle[] {
  if (!Object.keys(recordedRun.nodes).includes(node)) throw new Error(`no node ${node} in the recorded run (${Object.keys(recordedRun.nodes).join(', ')})`);
  const away = (i: number) => i >= from && i < until;
  return replayCycles((name, i, status) => (name === node && away(i) ? 'down' : { ...status, clusterSize: status.clusterSize - (away(i) ? 1 : 0) }));
}

/**
 * Every cycle of the run through the daemon's Analyzer, each node's read as `change` says: 'down'
 * (its read fails), or the status it returns (the recorded one, or an altered copy).
 */
export function replayCycles(change: (node: string, cycle: number, status: NodeStatus) => 'down' | NodeStatus): ReplayedCycle[] {
  const names = Object.keys(recordedRun.nodes);
  const store = new Store(':memory:');
  for (const n of names) store.recordSettings({ ...recordedRun.settings[n]!, cluster: 'c', node: n, epoch: 1, readAt: 0 });
  const clock = { now: 0 };
  const analyzer = new Analyzer(replayConfig(), store, createLogger({ level: 'error', write: () => undefined }), () => clock.now);
  const missed: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const out: ReplayedCycle[] = [];
  for (let i = 0; i < RECORDED_CYCLES; i++) {
    const outcomes: NodeOutcome[] = names.map((name) => {
      const s = recordedRun.nodes[name]![i]!;
      const status = change(name, i, s.status);
      if (status === 'down') {
        missed[name]!++;
        return { cluster: 'c', node: name, ok: false, takenAt: s.takenAt, failure: { reason: 'unreachable', message: 'connect ECONNREFUSED' }, consecutiveFailures: missed[name]! };
      }
      missed[name] = 0;
      return {
        cluster: 'c',
        node: name,
        ok: true,
        sample: { ...s, status, cluster: 'c', node: name, durationMs: 1 },
        newEpochReason: null,
        delta: null,
        settings: null,
        events: [],
        failures: [],
      };
    });
    clock.now = Math.max(...names.map((n) => recordedRun.nodes[n]![i]!.takenAt));
    const cycle: CycleResult = { startedAt: clock.now, durationMs: 1, outcomes };
    const { analyses, events } = analyzer.onCycle(cycle);
    out.push({ index: i, now: clock.now, analysis: analyses[0]!, events, missedCycles: { ...missed } });
  }
  store.close();
  return out;
}

/** The cluster's cumulative counted bytes up to `t`: what its first node's gcache took in (every node was Synced throughout). */
export function recordedWrites(t: number): ByteSeries {
  const samples = Object.values(recordedRun.nodes)[0]!.filter((s) => s.takenAt <= t);
  const bytes = (s: Sample) => s.status.receivedBytes + s.status.replicatedBytes;
  return byteSeriesOf(samples.map((s) => [s.takenAt, bytes(s) - bytes(samples[0]!)] as const));
}

/** The from-scratch analysis of the whole cluster at `t` (every node Synced), each node with `calibration`. */
export function recordedAnalysisAt(t: number, calibration?: Calibration): ClusterAnalysis {
  return analyzeCluster({
    cluster: 'c',
    now: t,
    targetWindowSeconds: 3600,
    shortHorizonSeconds: 300,
    longHorizonSeconds: 86400,
    writes: recordedWrites(t),
    nodes: recordedInputs(t, calibration),
  });
}

/** Every node's analysis input at `t`, from its samples up to then (every node was Synced throughout). */
export function recordedInputs(t: number, calibration?: Calibration): NodeInput[] {
  return Object.entries(recordedRun.nodes).map(([name, samples]) => {
    const s = recordedRun.settings[name]!;
    return {
      name,
      points: samples.filter((x) => x.takenAt <= t).map(toPoint),
      reachable: true,
      localState: 'Synced',
      clusterStatus: 'Primary',
      segment: 0,
      settings: { gcacheSizeBytes: s.sizeBytes, pageSizeBytes: s.pageSizeBytes, recover: s.recover, sstDonor: s.sstDonor },
      minutes: [],
      purgesSeen: 0,
      ...(calibration ? { calibration } : {}),
    };
  });
}
