/**
 * The IST forecast and the rejoin countdown on /metrics, from analyses of a run recorded from a
 * real cluster with one node taken away and brought back: the likely and safe budgets of the
 * Synced nodes, the countdown series only while the node is away, the backtest's coverage only
 * once there is one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/metrics/metrics.ts';
import { calibrate, UNCALIBRATED } from '../../src/analysis/forecast.ts';
import { recordedAnalysisAt, recordedRun, recordedWrites, replayWithAbsence } from '../support/away-replay.ts';

type Series = Array<{ labels: Record<string, string | number>; value: number }>;

async function seriesOf(metrics: Metrics, name: string): Promise<Series> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  return (await metric.get()).values as Series;
}

const valueOf = (series: Series, labels: Record<string, string>) =>
  series.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)?.value;

test('a node away and back: its countdown series exist only while it is away; the Synced nodes have likely and safe budgets', async () => {
  // node3's reads fail from cycle 24 to 39: IST is lost at cycle 34, and it is back at 40.
  const cycles = replayWithAbsence('node3', 24, 40);
  const metrics = new Metrics('test');
  const seen = { countdown: 0, lost: 0 };
  for (const c of cycles) {
    metrics.recordAnalysis(c.analysis);
    const remainingBytes = await seriesOf(metrics, 'galera_ist_remaining_bytes');
    const remainingSeconds = await seriesOf(metrics, 'galera_ist_remaining_seconds');
    const budget = await seriesOf(metrics, 'galera_ist_budget_seconds');
    const node3 = c.analysis.nodes.find((n) => n.node === 'node3')!;
    if (!node3.rejoin) {
      assert.deepEqual([...remainingBytes, ...remainingSeconds], [], `cycle ${c.index}: no countdown series while every node is in the cluster`);
    } else {
      const labels = { cluster: 'c', node: 'node3' };
      assert.equal(remainingBytes.length, 1, `cycle ${c.index}: the away node's only`);
      assert.equal(valueOf(remainingBytes, labels), node3.rejoin.remainingBytes);
      assert.equal(valueOf(remainingSeconds, { ...labels, rate: 'likely' }), node3.rejoin.remainingSeconds.likely ?? undefined);
      assert.equal(valueOf(remainingSeconds, { ...labels, rate: 'safe' }), node3.rejoin.remainingSeconds.safe ?? undefined);
      if (node3.rejoin.remainingBytes === 0) seen.lost++;
      else seen.countdown++;
      for (const rate of ['current', 'pessimistic', 'likely', 'safe']) assert.equal(valueOf(budget, { ...labels, rate }), undefined, `no ${rate} budget for the node that is away`);
    }
    const node1 = c.analysis.nodes.find((n) => n.node === 'node1')!;
    for (const rate of ['likely', 'safe'] as const) {
      assert.equal(valueOf(budget, { cluster: 'c', node: 'node1', rate }), node1.istBudget[rate]?.seconds ?? undefined, `cycle ${c.index}: node1 ${rate}`);
    }
  }
  assert.ok(seen.countdown >= 5 && seen.lost >= 3, JSON.stringify(seen));
  const last = cycles.at(-1)!.analysis.nodes.find((n) => n.node === 'node3')!;
  assert.ok(last.istBudget.likely?.seconds != null, 'back in the cluster, node3 has a forecast budget again');
  const text = await metrics.render();
  assert.match(text, /^galera_ist_budget_seconds\{cluster="c",node="node3",rate="safe"\} [\d.]+$/m);
  assert.doesNotMatch(text, /galera_ist_remaining_(bytes|seconds)\{/);
});

test('the coverage of the safe budget is exported once a backtest has run, and removed again without one', async () => {
  const end = Math.max(...Object.values(recordedRun.nodes).map((s) => s.at(-1)!.takenAt));
  const budgetBytes = recordedAnalysisAt(end).nodes[0]!.istBudget.current!.bytes!;
  const calibration = calibrate(recordedWrites(end), end, budgetBytes, UNCALIBRATED);
  assert.ok(calibration.coverage !== null);
  const metrics = new Metrics('test');
  metrics.recordAnalysis(recordedAnalysisAt(end, calibration));
  const coverage = await seriesOf(metrics, 'galera_ist_budget_safe_coverage');
  assert.deepEqual(
    coverage.map((s) => [s.labels.node, s.value]).sort(),
    Object.keys(recordedRun.nodes).map((n) => [n, calibration.coverage]),
  );
  metrics.recordAnalysis(recordedAnalysisAt(end));
  assert.deepEqual(await seriesOf(metrics, 'galera_ist_budget_safe_coverage'), []);
});
