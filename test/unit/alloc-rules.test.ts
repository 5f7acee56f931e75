/**
 * The rule engine keeps each alert's labels and fingerprint from one evaluation to the next
 * instead of building them for every rule and node in every cycle (issue #8). What it keeps must
 * never change an alert: the same labels in the same order, the fingerprint fingerprintOf gives
 * them, alerts of a node that is gone resolved, and the same alert again when the node returns,
 * even after the kept series of departed nodes have been dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRules } from '../../src/rules/rule-file.ts';
import { fingerprintOf, RuleEngine } from '../../src/rules/engine.ts';
import type { NodeContext } from '../../src/rules/variables.ts';
import type { ClusterAnalysis } from '../../src/analysis/cluster-analysis.ts';
import { Store } from '../../src/store/store.ts';
import { createLogger } from '../../src/log/logger.ts';
import { replayConfig, replayWithAbsence } from '../support/away-replay.ts';

const rules = loadRules(path.join(import.meta.dirname, '..', '..', 'rules'));
const LOST = 'GaleraISTLost';
const context =
  (missed: Record<string, number>) =>
  (_cluster: string, node: string): NodeContext => ({
    missedCycles: missed[node] ?? 0,
    purgesLastHour: 0,
    maintenanceAllowanceSeconds: 1800,
  });

test('alerts keep their labels and fingerprint across evaluations, resolve when their node is gone, and come back the same', (t) => {
  // node3's reads fail from cycle 24 on: IST is lost, and GaleraISTLost fires, by cycle 46.
  const cycles = replayWithAbsence('node3', 24);
  const store = new Store(':memory:');
  t.after(() => store.close());
  const engine = new RuleEngine(replayConfig(), store, createLogger({ level: 'error', write: () => undefined }), rules);
  const at46 = cycles.find((c) => c.index === 46)!;
  for (const c of cycles.filter((c) => c.index <= 46)) engine.evaluate([c.analysis], context(c.missedCycles), c.now);
  const lostOf = () => engine.openAlerts().find((a) => a.rule === LOST && a.labels.node === 'node3');
  const firing = lostOf();
  assert.equal(firing?.state, 'firing');
  const lostRule = rules.find((r) => r.name === LOST)!;
  assert.deepEqual(Object.keys(firing.labels), ['alertname', 'cluster', 'node', 'severity', ...Object.keys(lostRule.labels)], 'the label order of old');
  for (const a of engine.openAlerts()) assert.equal(a.fingerprint, fingerprintOf(a.labels), `${a.rule} on ${a.labels.node}`);

  // node3 leaves the analysis while a hundred other members come and go: the series kept for
  // them outnumber the current ones, and are dropped.
  const without = (a: ClusterAnalysis, extra: number): ClusterAnalysis => {
    const kept = a.nodes.filter((n) => n.node !== 'node3');
    const copies = Array.from({ length: extra }, (_, i) => ({ ...kept[0]!, node: `member-${i}` }));
    return { ...a, nodes: [...kept, ...copies] };
  };
  let now = at46.now;
  for (const extra of [100, 0, 0]) engine.evaluate([without(at46.analysis, extra)], context({}), (now += 5000));
  assert.equal(lostOf(), undefined, 'the alert of the node that is gone is resolved');
  assert.ok(store.alertHistory(0, 100).some((a) => a.rule === LOST && a.labels.node === 'node3' && a.state === 'resolved'));
  assert.ok(!engine.openAlerts().some((a) => a.labels.node?.startsWith('member-')), 'nor is anything left of the departed members');

  // Back, and still away from the group: the same alert again, pending for its minute.
  engine.evaluate([at46.analysis], context(at46.missedCycles), now + 5000);
  const again = lostOf();
  assert.equal(again?.state, 'pending');
  assert.deepEqual(again.labels, firing.labels);
  assert.equal(again.fingerprint, firing.fingerprint);
});

test('a reload (SIGHUP) gives its rules their own alerts: a changed rule labels anew, a removed one lets go of its alert', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-reload-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(import.meta.dirname, '..', '..', 'rules'), dir, { recursive: true });
  const cycles = replayWithAbsence('node3', 24);
  const store = new Store(':memory:');
  t.after(() => store.close());
  const engine = RuleEngine.fromConfig({ ...replayConfig(), rules: { dir } }, store, createLogger({ level: 'error', write: () => undefined }));
  for (const c of cycles.filter((c) => c.index <= 46)) engine.evaluate([c.analysis], context(c.missedCycles), c.now);
  const lost = () => engine.openAlerts().filter((a) => a.rule === LOST && a.labels.node === 'node3');
  assert.deepEqual(
    lost().map((a) => [a.severity, a.state]),
    [['warning', 'firing']],
  );
  const at46 = cycles.find((c) => c.index === 46)!;
  const evaluateLater = (ms: number) => engine.evaluate([at46.analysis], context(at46.missedCycles), at46.now + ms);

  const file = path.join(dir, 'ist-lost.yaml');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('severity: warning', 'severity: critical'));
  assert.deepEqual(engine.reload(), { ok: true, rules: rules.length });
  evaluateLater(5000);
  assert.deepEqual(
    lost().map((a) => [a.severity, a.labels.severity, a.state]),
    [['critical', 'critical', 'pending']],
    'the warning resolved, and the reloaded rule opened its own alert',
  );
  assert.ok(store.alertHistory(0, 100).some((a) => a.rule === LOST && a.severity === 'warning' && a.state === 'resolved'));

  fs.rmSync(file);
  assert.deepEqual(engine.reload(), { ok: true, rules: rules.length - 1 });
  evaluateLater(10_000);
  assert.deepEqual(lost(), [], 'the removed rule holds no alert');
});
