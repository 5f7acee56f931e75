/**
 * Replays a recorded accuracy run (`npm run accuracy -- --record FILE`) through the daemon's own
 * analysis, cycle by cycle, with the history known at each moment only, and scores its IST
 * figures against the forward truth read off the high-frequency record:
 * - the byte budget against the bytes the donors really took in until IST was lost;
 * - the time figures (likely, safe, current, pessimistic, and the classic gcache.size / 5-min
 *   rate) against the time until IST was really lost;
 * - the countdown: the node under test is made to vanish at a few start points, and the moment
 *   its countdown says "IST lost" is compared with the moment the last donor evicted S+1.
 * The nodes under test are those that took no load (a writer would stop writing when it left).
 */
import { parseConfig } from '../../src/config/load.js';
import { Store, type NodeSettings, type StoredSample } from '../../src/store/store.js';
import { Analyzer } from '../../src/pipeline/analyzer.js';
import { createLogger } from '../../src/log/logger.js';
import { istLostAt, type TruthPoint } from './truth-recorder.js';
import type { CycleResult, NodeOutcome } from '../../src/sampler/sampler.js';
import type { NodeAnalysis } from '../../src/analysis/cluster-analysis.js';

/** [t, last_committed, cached_downto, counted bytes] */
export type TruthRow = [number, number, number | null, number];

export interface Recording {
  intervalMs: number;
  load?: { shape: string; writers: number[] };
  settings: Record<string, Omit<NodeSettings, 'cluster' | 'node' | 'epoch' | 'readAt'> | null>;
  nodes: Record<string, Array<Pick<StoredSample, 'takenAt' | 'epoch' | 'status'>>>;
  truthRecords: Record<string, TruthRow[]>;
}

export const TIME_FIGURES = ['likely', 'safe', 'raw safe', 'current', 'pessimistic', 'classic'] as const;
export type TimeFigure = (typeof TIME_FIGURES)[number];

export interface Score {
  n: number;
  medianError: number;
  /** Share of checkpoints where the figure was more than 10% above the truth. */
  optimistic: number;
  /** Median of figure / truth. */
  medianRatio: number;
}

export interface Evaluation {
  checkpoints: number;
  bytes: Score | null;
  time: Record<TimeFigure, Score | null>;
  coverage: number | null;
  countdown: Array<{
    leftAt: number;
    budgetBytes: number | null;
    /** Where the countdown put the loss, in bytes written since the node left: written + remaining at its last cycle before zero. */
    predictedLostAfterBytes: number | null;
    trueLostAfterBytes: number;
    byteError: number | null;
    /** When it said "IST lost", against when it really was. */
    lateSeconds: number | null;
  }>;
}

const CLUSTER = 'replay';

/** Interpolated value of column `col` of a record at time t (null outside it). */
function valueAt(rows: readonly TruthRow[], t: number, col: 1 | 3): number | null {
  let lo = 0;
  let hi = rows.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid]![0] <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0 || found === rows.length - 1) return found < 0 ? null : rows[found]![col];
  const a = rows[found]!;
  const b = rows[found + 1]!;
  return a[col] + ((t - a[0]) / Math.max(1, b[0] - a[0])) * (b[col] - a[col]);
}

/**
 * The forward truth for a node that left at t with seqno S: the first moment no other node still
 * caches S+1 or Galera's safety gap refuses IST, and the bytes the others took in until then.
 */
export function trueIstLoss(rec: Recording, joiner: string, t: number, seqno: number): { seconds: number; bytes: number } | null {
  const others = Object.keys(rec.truthRecords).filter((n) => n !== joiner);
  const lost = istLostAt(truthPointsOf(rec), seqno, others, t);
  if (lost === null) return null;
  const written = Math.max(...others.map((n) => (valueAt(rec.truthRecords[n]!, lost, 3) ?? 0) - (valueAt(rec.truthRecords[n]!, t, 3) ?? 0)));
  return { seconds: (lost - t) / 1000, bytes: written };
}

const truthPoints = new WeakMap<Recording, Map<string, TruthPoint[]>>();

/** The recording's high-frequency record as the truth recorder keeps it (converted once per recording). */
function truthPointsOf(rec: Recording): Map<string, TruthPoint[]> {
  let points = truthPoints.get(rec);
  if (!points) {
    points = new Map(Object.entries(rec.truthRecords).map(([n, rows]) => [n, rows.map(([t, lastCommitted, downto, bytes]) => ({ t, lastCommitted, downto, bytes }))]));
    truthPoints.set(rec, points);
  }
  return points;
}

function analyzerFor(rec: Recording, clock: { now: number }): Analyzer {
  const names = Object.keys(rec.nodes);
  const config = parseConfig(
    `clusters:\n  - name: ${CLUSTER}\n    connection: { user: u, passwordEnv: PW }\n    nodes:\n${names.map((n) => `      - { name: ${n}, host: 127.0.0.1 }`).join('\n')}\nstorage: { path: ':memory:' }\nhorizons: { short: 5m, long: 24h }\n`,
    'replay.yaml',
    { PW: 'x' },
  );
  const store = new Store(':memory:');
  for (const n of names) {
    const s = rec.settings[n];
    if (s) store.recordSettings({ ...s, cluster: CLUSTER, node: n, epoch: rec.nodes[n]![0]?.epoch ?? 1, readAt: 0 });
  }
  return new Analyzer(config, store, createLogger({ level: 'error', write: () => undefined }), () => clock.now);
}

function cycleOf(rec: Recording, i: number, gone: (node: string, t: number) => boolean): CycleResult {
  const outcomes: NodeOutcome[] = Object.entries(rec.nodes).map(([node, samples]) => {
    const s = samples[i]!;
    if (gone(node, s.takenAt))
      return { cluster: CLUSTER, node, ok: false as const, takenAt: s.takenAt, failure: { reason: 'unreachable', message: 'gone' }, consecutiveFailures: 1 };
    return {
      cluster: CLUSTER,
      node,
      ok: true as const,
      // The vanished node has left the group: the others count it no more.
      sample: {
        ...s,
        status: { ...s.status, clusterSize: s.status.clusterSize - Object.keys(rec.nodes).filter((n) => n !== node && gone(n, s.takenAt)).length },
        cluster: CLUSTER,
        node,
        durationMs: 1,
      },
      newEpochReason: null,
      delta: null,
      settings: null,
      events: [],
      failures: [],
    };
  });
  return { startedAt: Math.min(...outcomes.map((o) => (o.ok ? o.sample.takenAt : o.takenAt))), durationMs: 1, outcomes };
}

/** Runs every cycle of the recording through a fresh analyzer; `visit` sees each node's analysis. */
function replay(rec: Recording, gone: (node: string, t: number) => boolean, visit: (n: NodeAnalysis, t: number) => void): void {
  const clock = { now: 0 };
  const analyzer = analyzerFor(rec, clock);
  const cycles = Math.min(...Object.values(rec.nodes).map((s) => s.length));
  for (let i = 0; i < cycles; i++) {
    const result = cycleOf(rec, i, gone);
    clock.now = Math.max(...Object.values(rec.nodes).map((s) => s[i]!.takenAt));
    for (const n of analyzer.onCycle(result).analyses[0]!.nodes) visit(n, clock.now);
  }
}

function score(pairs: ReadonlyArray<[number, number]>): Score | null {
  if (pairs.length === 0) return null;
  const errors = pairs.map(([v, truth]) => Math.abs(v - truth) / truth).sort((a, b) => a - b);
  const ratios = pairs.map(([v, truth]) => v / truth).sort((a, b) => a - b);
  return {
    n: pairs.length,
    medianError: errors[Math.floor(errors.length / 2)]!,
    optimistic: pairs.filter(([v, truth]) => v > truth * 1.1).length / pairs.length,
    medianRatio: ratios[Math.floor(ratios.length / 2)]!,
  };
}

export function nodesUnderTest(rec: Recording): string[] {
  const writers = new Set((rec.load?.writers ?? []).map((w) => `node${w}`));
  const quiet = Object.keys(rec.nodes).filter((n) => !writers.has(n));
  return quiet.length > 0 ? quiet : Object.keys(rec.nodes);
}

export function evaluateRecording(rec: Recording, opts: { countdownStarts?: number } = {}): Evaluation {
  const underTest = new Set(nodesUnderTest(rec));
  const bytePairs: Array<[number, number]> = [];
  const timePairs = Object.fromEntries(TIME_FIGURES.map((f) => [f, [] as Array<[number, number]>])) as Record<TimeFigure, Array<[number, number]>>;
  const coverages: number[] = [];
  let checkpoints = 0;
  const wrappedAt: number[] = [];
  replay(
    rec,
    () => false,
    (n, t) => {
      if (!underTest.has(n.node) || n.measured.measuredSeconds === null || !n.istBudget.current) return;
      // S: the node's last committed seqno at its newest sample, as the budget takes it.
      const truth = trueIstLoss(rec, n.node, t, n.istBudget.current.needsSeqno - 1);
      if (!truth || truth.seconds <= 0) return;
      checkpoints++;
      wrappedAt.push(t);
      const b = n.istBudget;
      if (b.current?.bytes != null && truth.bytes > 0) bytePairs.push([b.current.bytes, truth.bytes]);
      const put = (f: TimeFigure, v: number | null | undefined) => {
        if (typeof v === 'number' && Number.isFinite(v) && v > 0) timePairs[f].push([v, truth.seconds]);
      };
      put('likely', b.likely?.seconds);
      put('safe', b.safe?.seconds);
      put('raw safe', b.forecast?.rawSafeSeconds);
      put('current', b.current?.seconds);
      put('pessimistic', b.pessimistic?.seconds);
      put('classic', n.estimated.short.classicSeconds);
      if (b.forecast?.calibration.coverage != null) coverages.push(b.forecast.calibration.coverage);
    },
  );

  // The countdown: the node under test vanishes at a few start points spread over the checked span.
  const countdown: Evaluation['countdown'] = [];
  const joiner = [...underTest][0]!;
  const starts = opts.countdownStarts ?? 6;
  for (let k = 0; k < starts && wrappedAt.length > 0; k++) {
    const leftAt = wrappedAt[Math.floor(((k + 0.5) / starts) * wrappedAt.length)]!;
    const leftSample = [...rec.nodes[joiner]!].reverse().find((s) => s.takenAt <= leftAt)!;
    const truth = trueIstLoss(rec, joiner, leftSample.takenAt, leftSample.status.lastCommitted);
    if (!truth) continue;
    const others = Object.keys(rec.truthRecords).filter((n) => n !== joiner);
    const writtenUntil = (t: number) => Math.max(...others.map((n) => (valueAt(rec.truthRecords[n]!, t, 3) ?? 0) - (valueAt(rec.truthRecords[n]!, leftSample.takenAt, 3) ?? 0)));
    let budgetBytes: number | null = null;
    let predicted: number | null = null;
    let zeroAt: number | null = null;
    replay(
      rec,
      (node, t) => node === joiner && t > leftSample.takenAt,
      (n, t) => {
        if (n.node !== joiner || !n.rejoin || zeroAt !== null) return;
        budgetBytes ??= n.rejoin.remainingBytes;
        if (n.rejoin.verdict === 'ist-lost') zeroAt = t;
        else if (n.rejoin.remainingBytes !== null) predicted = writtenUntil(t) + n.rejoin.remainingBytes;
      },
    );
    countdown.push({
      leftAt: leftSample.takenAt,
      budgetBytes,
      predictedLostAfterBytes: predicted,
      trueLostAfterBytes: truth.bytes,
      byteError: predicted === null ? null : (predicted - truth.bytes) / truth.bytes,
      lateSeconds: zeroAt === null ? null : (zeroAt - leftSample.takenAt) / 1000 - truth.seconds,
    });
  }
  coverages.sort((a, b) => a - b);
  return {
    checkpoints,
    bytes: score(bytePairs),
    time: Object.fromEntries(TIME_FIGURES.map((f) => [f, score(timePairs[f])])) as Record<TimeFigure, Score | null>,
    coverage: coverages.length ? coverages[Math.floor(coverages.length / 2)]! : null,
    countdown,
  };
}

export function formatEvaluation(e: Evaluation): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(7);
  const row = (name: string, s: Score | null) =>
    s ? `${name.padEnd(26)} ${String(s.n).padStart(5)} ${pct(s.medianError)} ${pct(s.optimistic)} ${s.medianRatio.toFixed(2).padStart(7)}` : `${name.padEnd(26)}     0`;
  const lines = [
    `${e.checkpoints} checkpoints of the nodes under test`,
    `${'figure'.padEnd(26)} ${'n'.padStart(5)} ${'median error'.padStart(7)} ${'>10% optimistic'.padStart(7)} ${'median figure/truth'.padStart(7)}`,
    row('IST budget, bytes', e.bytes),
    ...TIME_FIGURES.map((f) => row(`IST budget, ${f}`, e.time[f])),
    `median published coverage of safe: ${e.coverage === null ? '–' : e.coverage.toFixed(2)}`,
    'countdown (node made to vanish at each start): where it put the loss (bytes written + remaining, at its last cycle before zero) vs the bytes written when the last donor evicted S+1, and when it said "IST lost"',
    ...e.countdown.map(
      (c) =>
        `  left at +${Math.round((c.leftAt - e.countdown[0]!.leftAt) / 1000)} s: budget ${c.budgetBytes === null ? '–' : Math.round(c.budgetBytes)} B, loss put at ${c.predictedLostAfterBytes === null ? '–' : Math.round(c.predictedLostAfterBytes)} B, truth ${Math.round(c.trueLostAfterBytes)} B (${c.byteError === null ? '–' : pct(c.byteError).trim()}); said "IST lost" ${c.lateSeconds === null ? '–' : c.lateSeconds.toFixed(1)} s after the truth`,
    ),
  ];
  return lines.join('\n');
}
