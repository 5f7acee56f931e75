/**
 * The daemon's incremental analysis (history kept in memory and updated one sample at a time,
 * trimmed and thinned) against the from-scratch analysis over every sample, on a run recorded
 * from a real cluster (exact agreement) and on a seven-hour synthetic run that exercises trimming
 * and per-minute thinning (agreement within one minute of window, memory bounded by the window).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { parseConfig } from '../../src/config/load.ts';
import { Store, type StoredSample } from '../../src/store/store.ts';
import { Analyzer } from '../../src/pipeline/analyzer.ts';
import { toPoint } from '../../src/pipeline/node-history.ts';
import { ColumnSeries, type SeriesPoint } from '../../src/analysis/series.ts';
import { analyzeCluster, type ClusterAnalysis, type NodeAnalysis } from '../../src/analysis/cluster-analysis.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { CycleResult } from '../../src/sampler/sampler.ts';
import type { NodeStatus } from '../../src/sampler/status.ts';

type Settings = { sizeBytes: number; pageSizeBytes: number; recover: boolean; sstDonor: string; segment: number; keepPagesSizeBytes: number };
type Sample = Pick<StoredSample, 'takenAt' | 'epoch' | 'status'>;

const SHORT_S = 300;
const LONG_S = 86400;

function setup(nodes: Record<string, Sample[]>, settings: Record<string, Settings>, clock: { now: number }) {
  const names = Object.keys(nodes);
  const config = parseConfig(
    `clusters:\n  - name: c\n    connection: { user: u, passwordEnv: PW }\n    nodes:\n${names.map((n) => `      - { name: ${n}, host: 127.0.0.1 }`).join('\n')}\nstorage: { path: ':memory:', retention: { raw: 2d } }\n`,
    'incremental-test.yaml',
    { PW: 'x' },
  );
  const store = new Store(':memory:');
  for (const n of names) store.recordSettings({ ...settings[n]!, cluster: 'c', node: n, epoch: 1, readAt: 0 });
  const analyzer = new Analyzer(config, store, createLogger({ level: 'error', write: () => undefined }), () => clock.now);
  return { analyzer, store, names };
}

/** The from-scratch analysis at `now`: every sample so far, per-minute rollups built as the store builds them. */
function fromScratch(nodes: Record<string, Sample[]>, settings: Record<string, Settings>, now: number): ClusterAnalysis {
  return analyzeCluster({
    cluster: 'c',
    now,
    targetWindowSeconds: 3600,
    shortHorizonSeconds: SHORT_S,
    longHorizonSeconds: LONG_S,
    nodes: Object.entries(nodes).map(([name, all]) => {
      const known = all.filter((s) => s.takenAt <= now);
      const buckets = new Map<string, { minute: number; epoch: number; seconds: number; bytes: number; writeSets: number }>();
      for (let i = 1; i < known.length; i++) {
        const a = known[i - 1]!;
        const b = known[i]!;
        if (a.epoch !== b.epoch) continue;
        const minute = Math.floor(b.takenAt / 60_000) * 60_000;
        const k = `${minute}/${b.epoch}`;
        const acc = buckets.get(k) ?? buckets.set(k, { minute, epoch: b.epoch, seconds: 0, bytes: 0, writeSets: 0 }).get(k)!;
        acc.seconds += (b.takenAt - a.takenAt) / 1000;
        acc.bytes += b.status.receivedBytes + b.status.replicatedBytes - a.status.receivedBytes - a.status.replicatedBytes;
        acc.writeSets += b.status.lastCommitted - a.status.lastCommitted;
      }
      const longFrom = now - LONG_S * 1000;
      const s = settings[name]!;
      return {
        name,
        points: known.map(toPoint),
        reachable: true,
        localState: known.at(-1)?.status.localState ?? null,
        clusterStatus: known.at(-1)?.status.clusterStatus ?? null,
        segment: 0,
        settings: { gcacheSizeBytes: s.sizeBytes, pageSizeBytes: s.pageSizeBytes, recover: s.recover, sstDonor: s.sstDonor },
        minutes: [...buckets.values()].filter((m) => m.minute >= longFrom - 60_000).sort((a, b) => a.minute - b.minute || a.epoch - b.epoch),
        purgesSeen: 0,
      };
    }),
  });
}

function cycleOf(nodes: Record<string, Sample[]>, i: number): CycleResult {
  const outcomes = Object.entries(nodes).map(([node, samples]) => ({
    cluster: 'c',
    node,
    ok: true as const,
    sample: { ...samples[i]!, cluster: 'c', node, durationMs: 1 },
    newEpochReason: null,
    delta: null,
    settings: null,
    events: [],
    failures: [],
  }));
  return { startedAt: Math.min(...outcomes.map((o) => o.sample.takenAt)), durationMs: 1, outcomes };
}

function close(a: number | null | undefined, b: number | null | undefined, tolerance: number, what: string): void {
  if (a == null || b == null) {
    assert.equal(a ?? null, b ?? null, what);
    return;
  }
  assert.ok(Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b)), `${what}: incremental ${a}, from scratch ${b}`);
}

function compare(inc: NodeAnalysis, ref: NodeAnalysis, windowToleranceSeconds: number, at: string): void {
  const rel = 1e-9;
  // The per-minute buckets are kept in Float32 (seven significant digits): rates over them agree to 1e-6.
  const rateRel = 1e-6;
  const w = (x: number | null | undefined) => (x == null ? x : x / Math.max(1, windowToleranceSeconds));
  close(w(inc.measured.measuredSeconds), w(ref.measured.measuredSeconds), windowToleranceSeconds === 0 ? rel : 1, `${at} measured window`);
  assert.equal(inc.measured.ring, ref.measured.ring, `${at} ring`);
  assert.equal(inc.measured.oldestSeqno, ref.measured.oldestSeqno, `${at} oldest seqno`);
  close(inc.rates.short?.bytesPerSecond, ref.rates.short?.bytesPerSecond, rel, `${at} short rate`);
  close(inc.rates.long?.bytesPerSecond, ref.rates.long?.bytesPerSecond, rateRel, `${at} long rate`);
  close(inc.rates.distribution?.p95, ref.rates.distribution?.p95, rateRel, `${at} p95 minute rate`);
  close(inc.rates.distribution?.p99, ref.rates.distribution?.p99, rateRel, `${at} p99 minute rate`);
  assert.equal(inc.rates.distribution?.minutes ?? null, ref.rates.distribution?.minutes ?? null, `${at} minutes`);
  close(inc.estimated.short.bestSeconds, ref.estimated.short.bestSeconds, windowToleranceSeconds === 0 ? rel : 0.02, `${at} estimated window`);
  assert.equal(inc.istBudget.current?.donor ?? null, ref.istBudget.current?.donor ?? null, `${at} donor`);
  close(inc.istBudget.current?.bytes, ref.istBudget.current?.bytes, windowToleranceSeconds === 0 ? rel : 0.02, `${at} IST budget bytes`);
  close(inc.istBudget.pessimistic?.seconds, ref.istBudget.pessimistic?.seconds, windowToleranceSeconds === 0 ? rateRel : 0.02, `${at} pessimistic IST budget`);
  assert.equal(inc.historyDrop?.kind ?? null, ref.historyDrop?.kind ?? null, `${at} history drop`);
}

test('a recorded real run: the incremental analysis gives the from-scratch figures at every cycle', () => {
  const run = JSON.parse(fs.readFileSync(new URL('../fixtures/window-run.json', import.meta.url), 'utf8')) as {
    nodes: Record<string, Sample[]>;
    settings: Record<string, Settings>;
  };
  const clock = { now: 0 };
  const { analyzer } = setup(run.nodes, run.settings, clock);
  const cycles = Math.min(...Object.values(run.nodes).map((s) => s.length));
  let compared = 0;
  for (let i = 0; i < cycles; i++) {
    const result = cycleOf(run.nodes, i);
    clock.now = Math.max(...result.outcomes.map((o) => (o.ok ? o.sample.takenAt : 0)));
    const inc = analyzer.onCycle(result).analyses[0]!;
    const ref = fromScratch(run.nodes, run.settings, clock.now);
    for (const n of ref.nodes)
      compare(
        inc.nodes.find((x) => x.node === n.node)!,
        n,
        0,
        `cycle ${i} ${n.node}`,
      );
    assert.equal(inc.recommendation.recommendedGcacheSizeBytes, ref.recommendation.recommendedGcacheSizeBytes, `cycle ${i} recommendation`);
    compared++;
  }
  assert.ok(compared >= 40);
});

/** Three nodes under a write rate that swings over hours, each with a ring of `capacity` counted bytes. */
function syntheticRun(hours: number, intervalS: number, capacity: number): Record<string, Sample[]> {
  const writeSet = 2000;
  const names = ['a', 'b', 'c'];
  const out: Record<string, Sample[]> = { a: [], b: [], c: [] };
  let seqno = 1000;
  const t0 = Date.UTC(2026, 0, 1);
  const cachedFrom: number[] = [];
  for (let i = 0; i * intervalS < hours * 3600; i++) {
    const t = t0 + i * intervalS * 1000;
    const rate = 300 * (1.5 + Math.sin((i * intervalS) / 5400)); // write-sets per second, swinging every ~3 h
    seqno += Math.round(rate * intervalS);
    cachedFrom.push(seqno);
    // The ring holds the newest capacity / writeSet write-sets.
    const downto = Math.max(1001, seqno - Math.floor(capacity / writeSet) + 1);
    names.forEach((name, k) => {
      const bytes = (seqno - 1000) * writeSet;
      const status: NodeStatus = {
        receivedBytes: k === 0 ? 0 : bytes,
        replicatedBytes: k === 0 ? bytes : 0,
        received: 0,
        replicated: 0,
        lastCommitted: seqno,
        cachedDownto: downto,
        localState: 'Synced',
        clusterStatus: 'Primary',
        clusterSize: 3,
        localStateUuid: 'u',
        clusterStateUuid: 'u',
        segment: 0,
        flowControlPaused: 0,
        uptimeSeconds: 100 + i * intervalS,
      };
      out[name]!.push({ takenAt: t + k, epoch: 1, status });
    });
  }
  return out;
}

test('seven synthetic hours: trimmed and thinned history agrees within a minute, and memory follows the window', () => {
  const capacity = 2000 * 300 * 1.5 * 5400; // about 1.5 h of writes at the mean rate
  const nodes = syntheticRun(7, 10, capacity);
  const settings: Record<string, Settings> = Object.fromEntries(
    Object.keys(nodes).map((n) => [n, { sizeBytes: capacity, pageSizeBytes: 128 * 2 ** 20, recover: true, sstDonor: '', segment: 0, keepPagesSizeBytes: 0 }]),
  );
  const clock = { now: 0 };
  const { analyzer } = setup(nodes, settings, clock);
  const cycles = nodes.a!.length;
  let compared = 0;
  let maxState = 0;
  for (let i = 0; i < cycles; i++) {
    const result = cycleOf(nodes, i);
    clock.now = Math.max(...result.outcomes.map((o) => (o.ok ? o.sample.takenAt : 0)));
    const inc = analyzer.onCycle(result).analyses[0]!;
    maxState = Math.max(maxState, analyzer.stateBytes());
    if (i % 60 !== 59) continue; // every 10 minutes
    const ref = fromScratch(nodes, settings, clock.now);
    for (const n of ref.nodes)
      compare(
        inc.nodes.find((x) => x.node === n.node)!,
        n,
        60,
        `cycle ${i} ${n.node}`,
      );
    compared++;
  }
  assert.ok(compared >= 40, `${compared} comparisons`);
  const measured = analyzer.latest('c')!.nodes[0]!.measured.measuredSeconds!;
  assert.ok(measured > 3600, `the window (${measured} s) reaches past the full-resolution hour, so thinning was exercised`);
  // Full resolution for an hour (360 points) plus a point a minute over the rest of the window,
  // per node and for the timeline, at 41 bytes a point (columns grow by half); the minute
  // buckets of seven hours at 16 bytes (+ the sorted rates), and a short sliding maximum.
  const pointsPerSeries = 360 + measured / 60 + 10;
  assert.ok(maxState < 4 * pointsPerSeries * 41 * 1.6 + 3 * 1500 * 24 + 3 * 100 * 16, `state ${maxState} bytes`);
});

test('a series sized once at load, trimmed, then shrunk: the same points, in less room', () => {
  const series = new ColumnSeries();
  series.reserve(2000);
  assert.equal(series.byteSize, 2000 * 19, 'one allocation of the size asked for');
  const at = (i: number) => ({ t: i * 10_000, seqno: 100 + i, bytes: 1000 * i, epoch: 1, downto: i % 7 === 0 ? null : 50 + i, synced: i % 5 !== 0 });
  for (let i = 0; i < 1800; i++) series.push(at(i));
  assert.equal(series.byteSize, 2000 * 19, 'no growth while within the reserve');
  series.dropFront(1500);
  series.shrinkToFit();
  assert.ok(series.byteSize < (2000 * 19) / 3, `shrunk to ${series.byteSize} bytes`);
  assert.equal(series.length, 300);
  const pointAt = (i: number): SeriesPoint => ({
    t: series.t(i),
    seqno: series.seqno(i),
    bytes: series.bytes(i),
    epoch: series.epoch(i),
    downto: series.downto(i),
    synced: series.synced(i),
  });
  for (let i = 0; i < 300; i++) assert.deepEqual(pointAt(i), at(1500 + i));
  series.push(at(1800));
  assert.deepEqual(pointAt(300), at(1800), 'and it grows again as usual');
});
