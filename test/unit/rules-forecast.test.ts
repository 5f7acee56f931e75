/**
 * The shipped rules on the IST time forecast and the rejoin countdown, evaluated on analyses of a
 * run recorded from a real cluster: a node taken away mid-run (its reads failing) while the other
 * two keep their real rings and the real load; and the real backtest of the safe figure on that
 * run's writes. Each rule must fire when its situation arises and stay quiet otherwise, on the
 * Synced nodes above all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { loadRules, type Rule } from '../../src/rules/rule-file.ts';
import { evaluate, truthy } from '../../src/rules/expression.ts';
import { renderTemplate } from '../../src/rules/template.ts';
import { nodeValues, NODE_VARIABLES, type NodeContext } from '../../src/rules/variables.ts';
import { RuleEngine } from '../../src/rules/engine.ts';
import { Store } from '../../src/store/store.ts';
import { createLogger } from '../../src/log/logger.ts';
import { calibrate, UNCALIBRATED } from '../../src/analysis/forecast.ts';
import { byteSeriesOf } from '../../src/analysis/write-history.ts';
import { RECORDED_CYCLES, recordedAnalysisAt, recordedRun, replayConfig, replayWithAbsence, type ReplayedCycle } from '../support/away-replay.ts';

const rules = loadRules(path.join(import.meta.dirname, '..', '..', 'rules'));
const rule = (name: string): Rule => {
  const r = rules.find((x) => x.name === name);
  assert.ok(r, `the shipped rule ${name}`);
  return r;
};
const COVERAGE = rule('GaleraISTForecastCoverageLow');
const LOST_SOON = rule('GaleraNodeAwayISTLostSoon');
const LOST = rule('GaleraISTLost');
const NEW_RULES = [COVERAGE, LOST_SOON, LOST];

/** node3's reads fail from this cycle on: 120 s into the run, its load and rings well under way. */
const LEAVES_AT = 24;
const contextOf =
  (c: ReplayedCycle) =>
  (_cluster: string, node: string): NodeContext => ({ missedCycles: c.missedCycles[node] ?? 0, purgesLastHour: 0, maintenanceAllowanceSeconds: 1800 });
const fires = (r: Rule, values: ReturnType<typeof nodeValues>) => truthy(evaluate(r.condition, values));

test('the IST forecast rules ship with their severities, and every new variable is documented', () => {
  assert.deepEqual(
    NEW_RULES.map((r) => [r.name, r.severity, r.forSeconds]),
    [
      ['GaleraISTForecastCoverageLow', 'warning', 1800],
      ['GaleraNodeAwayISTLostSoon', 'critical', 60],
      ['GaleraISTLost', 'warning', 60],
    ],
  );
  for (const name of [
    'ist_budget_likely',
    'ist_budget_safe',
    'ist_forecast_coverage',
    'away',
    'away_for',
    'ist_remaining_bytes',
    'ist_remaining_likely',
    'ist_remaining_safe',
    'ist_lost',
  ]) {
    assert.ok(NODE_VARIABLES[name]?.help, `${name} is a documented node variable`);
  }
});

test('a node away on the recorded run: "IST lost within 10 min" holds until IST is lost, then "IST lost"; Synced nodes never fire', () => {
  const cycles = replayWithAbsence('node3', LEAVES_AT);
  let soon = 0;
  let lostFrom: number | null = null;
  for (const c of cycles) {
    for (const n of c.analysis.nodes) {
      const v = nodeValues(c.analysis, n, contextOf(c)(c.analysis.cluster, n.node));
      const at = `${n.node} at cycle ${c.index}`;
      if (n.node !== 'node3' || c.index < LEAVES_AT) {
        // In the cluster: no countdown, and nothing lost.
        assert.equal(v.away, false, at);
        assert.equal(v.ist_lost, false, at);
        for (const name of ['away_for', 'ist_remaining_bytes', 'ist_remaining_likely', 'ist_remaining_safe']) assert.equal(v[name], null, `${at}: ${name}`);
        for (const r of NEW_RULES) assert.equal(fires(r, v), false, `${at}: ${r.name}`);
        continue;
      }
      assert.equal(v.away, true, at);
      assert.equal(v.ist_budget, null, `${at}: no budget for a node that is away`);
      assert.ok(typeof v.away_for === 'number' && v.away_for >= 5, at);
      if (v.ist_lost === true) {
        lostFrom ??= c.index;
        assert.equal(v.ist_remaining_bytes, 0, at);
        assert.equal(fires(LOST_SOON, v), false, `${at}: lost already, so no longer "within 10 min"`);
        assert.equal(fires(LOST, v), true, at);
      } else {
        assert.equal(lostFrom, null, `${at}: IST, once lost, stays lost while the node is away`);
        assert.ok(typeof v.ist_remaining_bytes === 'number' && v.ist_remaining_bytes > 0, at);
        // An 8 MiB gcache under this load holds well under 10 minutes.
        assert.ok(typeof v.ist_remaining_safe === 'number' && v.ist_remaining_safe <= 600, at);
        assert.equal(fires(LOST_SOON, v), true, at);
        assert.equal(fires(LOST, v), false, at);
        assert.ok(v.donor === 'node1' || v.donor === 'node2', `${at}: the countdown's donor, ${v.donor}`);
        soon++;
        if (soon === 1) {
          const summary = renderTemplate(LOST_SOON.summary, v);
          assert.match(summary, /^c\/node3 has been away \d+ s: it can rejoin by IST only within \d+ s more \(likely \d+ s\)$/);
          assert.match(renderTemplate(LOST_SOON.description, v), /Bring the node back now\. Donor node[12] still holds what it needs, until the cluster writes [\d.]+ MiB more/);
        }
      }
    }
  }
  assert.ok(soon >= 5, `${soon} cycles with IST about to be lost`);
  assert.ok(lostFrom !== null && lostFrom < RECORDED_CYCLES - 5, `IST lost from cycle ${lostFrom}`);
  const lastCycle = cycles.at(-1)!;
  const v = nodeValues(
    lastCycle.analysis,
    lastCycle.analysis.nodes.find((n) => n.node === 'node3')!,
    contextOf(lastCycle)('c', 'node3'),
  );
  assert.match(renderTemplate(LOST.summary, v), /^c\/node3 has been away [\d.]+ (s|min) and can no longer rejoin by IST: it will need an SST$/);
});

test('a node away before the write history allows a forecast: the time left at the pessimistic rate, so "within 10 min" can still fire', () => {
  // Six cycles in, the history is too short for the forecast: the time left comes from the pessimistic rate.
  const cycles = replayWithAbsence('node3', 6, 9);
  const early = cycles
    .filter((c) => c.index >= 6 && c.index < 9)
    .map((c) => {
      const n = c.analysis.nodes.find((x) => x.node === 'node3')!;
      return { n, v: nodeValues(c.analysis, n, contextOf(c)('c', 'node3')) };
    });
  const byRate = early.filter(({ n }) => n.rejoin !== null && n.istBudget.forecast === null && n.rejoin.remainingBytes! > 0);
  assert.ok(byRate.length >= 1, 'a cycle without a forecast yet');
  for (const { n, v } of byRate) {
    assert.equal(v.away, true);
    assert.ok(typeof v.ist_remaining_safe === 'number' && v.ist_remaining_safe > 0, JSON.stringify(n.rejoin));
    assert.equal(fires(LOST_SOON, v), v.ist_remaining_safe <= 600);
    assert.equal(fires(LOST, v), false);
  }
});

test('the rule engine on the recorded run: IST lost fires, "within 10 min" stays pending (the 8 MiB window ran out within its 1 min), both resolve when the node is back', () => {
  const cycles = replayWithAbsence('node3', LEAVES_AT, 47);
  const store = new Store(':memory:');
  const engine = new RuleEngine(replayConfig(), store, createLogger({ level: 'error', write: () => undefined }), rules);
  const stateOf = (name: string) => engine.openAlerts().find((a) => a.rule === name && a.labels.node === 'node3')?.state ?? 'inactive';
  const seen: Record<string, Set<string>> = { [LOST_SOON.name]: new Set(), [LOST.name]: new Set() };
  for (const c of cycles) {
    engine.evaluate([c.analysis], contextOf(c), c.now);
    for (const name of Object.keys(seen)) seen[name]!.add(stateOf(name));
    for (const a of engine.openAlerts().filter((x) => NEW_RULES.some((r) => r.name === x.rule))) {
      assert.equal(a.labels.node, 'node3', `${a.rule} only on the node that is away`);
    }
    if (c.index === 46) {
      const lost = engine.openAlerts().find((a) => a.rule === LOST.name)!;
      assert.equal(lost.state, 'firing');
      assert.match(lost.annotations.description!, /when it rejoins it will copy the\s+whole dataset/);
    }
  }
  assert.deepEqual([...seen[LOST_SOON.name]!].sort(), ['inactive', 'pending']);
  assert.deepEqual([...seen[LOST.name]!].sort(), ['firing', 'inactive', 'pending'], 'pending for its minute, then firing');
  assert.equal(stateOf(LOST.name), 'inactive', 'resolved once the node is back');
  const history = store.alertHistory(0, 100).filter((a) => a.rule === LOST.name);
  assert.equal(history.length, 1);
  assert.equal(history[0]!.state, 'resolved');
  store.close();
});

test('the coverage rule on a backtest of a load that changed its nature: the raw 5th percentile was optimistic, the calibrated one holds', () => {
  const end = Math.max(...Object.values(recordedRun.nodes).map((s) => s.at(-1)!.takenAt));
  // (On the recorded run itself the raw figure held at every backtested start point.) Seven and a
  // half hours at 1,000 B/s, then ten times that, up to the recorded run's end: the history knows
  // nothing like the load now.
  const writes = byteSeriesOf(
    Array.from({ length: 8 * 360 + 1 }, (_, k) => [end - (8 * 360 - k) * 10_000, 10_000 * Math.min(k, 7.5 * 360) + 100_000 * Math.max(0, k - 7.5 * 360)] as const),
  );
  const budgetBytes = 1_200_000;
  // The safe figure as first published (no shrink) against what the load then did.
  const first = calibrate(writes, end, budgetBytes, UNCALIBRATED);
  // The next backtest judges the shrunk figure that the first one put in force.
  const second = calibrate(writes, end, budgetBytes, first);
  assert.ok(first.resolved >= 20 && first.coverage !== null && first.coverage < 0.9, `raw coverage ${first.coverage} over ${first.resolved} start points`);
  assert.ok(second.coverage !== null && second.coverage >= 0.9, `calibrated coverage ${second.coverage}`);

  const valuesWith = (calibration: typeof first | undefined) => {
    const a = recordedAnalysisAt(end, calibration);
    return a.nodes.map((n) => nodeValues(a, n, { missedCycles: 0, purgesLastHour: 0, maintenanceAllowanceSeconds: 1800 }));
  };
  for (const v of valuesWith(first)) {
    assert.equal(v.ist_forecast_coverage, first.coverage);
    assert.ok(typeof v.ist_budget_safe === 'number' && typeof v.ist_budget_likely === 'number' && v.ist_budget_safe <= v.ist_budget_likely);
    assert.equal(fires(COVERAGE, v), true);
    assert.match(renderTemplate(COVERAGE.summary, v), /^c\/node\d: the safe IST budget held at only 0\.\d\d of the last backtest's start points \(aim: 0\.95\)$/);
    for (const r of [LOST_SOON, LOST]) assert.equal(fires(r, v), false, `${r.name} on a Synced node`);
  }
  for (const v of valuesWith(second)) assert.equal(fires(COVERAGE, v), false, `coverage ${v.ist_forecast_coverage}`);
  for (const v of valuesWith(undefined)) {
    assert.equal(v.ist_forecast_coverage, null, 'no backtest yet');
    assert.equal(fires(COVERAGE, v), false);
  }
});
