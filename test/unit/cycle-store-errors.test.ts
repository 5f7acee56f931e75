/**
 * A store that cannot be written (a real SQLite file whose write lock another connection holds)
 * must not stop the cycle: the analysis, the metrics and the rules go on from memory, readiness
 * says why, the error is logged once a minute, and writing resumes when the lock goes, with the
 * gcache settings that could not be written then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parseConfig } from '../../src/config/load.ts';
import { Store } from '../../src/store/store.ts';
import { Sampler, type ReaderFactory } from '../../src/sampler/sampler.ts';
import { parseStatusRows } from '../../src/sampler/status.ts';
import { parseGcacheSettings } from '../../src/sampler/provider-options.ts';
import { createLogger } from '../../src/log/logger.ts';
import { Analyzer } from '../../src/pipeline/analyzer.ts';
import { CyclePipeline } from '../../src/pipeline/cycle.ts';
import { AnalysisRecorder } from '../../src/pipeline/analysis-recorder.ts';
import { analyzeCluster } from '../../src/analysis/cluster-analysis.ts';
import { Metrics } from '../../src/metrics/metrics.ts';
import { RuleEngine } from '../../src/rules/engine.ts';
import { Outbox } from '../../src/alerts/outbox.ts';

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/real-cluster.json', import.meta.url), 'utf8'));
const snapshots = [fixture.node2.before, fixture.node2.afterWrites] as Array<{ takenAt: number; rows: Array<{ Variable_name: string; Value: string }> }>;

/** Every node answers with the recorded statuses, one snapshot per cycle, then stands still (Uptime follows the clock). */
const recordedReaders =
  (cycle: () => number, now: () => number): ReaderFactory =>
  () => ({
    readStatus: async () => {
      const snapshot = snapshots[Math.min(cycle(), snapshots.length - 1)]!;
      const status = parseStatusRows(snapshot.rows);
      return { ...status, uptimeSeconds: status.uptimeSeconds + Math.round((now() - snapshot.takenAt) / 1000) };
    },
    readSettings: async () => ({ gcache: parseGcacheSettings(fixture.providerOptions), sstDonor: '' }),
    close: async () => undefined,
  });

test('a locked database: the cycle goes on from memory, says why, logs once a minute, and catches up', async (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-locked-')), 'ga.db');
  const config = parseConfig(
    `clusters: [{ name: c, connection: { user: u, passwordEnv: PW }, nodes: [{ name: a, host: h1 }, { name: b, host: h2 }, { name: d, host: h3 }] }]
rules: { dir: ${path.join(import.meta.dirname, '..', '..', 'rules')} }`,
    'test.yaml',
    { PW: 'pw-for-test' },
  );
  const store = new Store(file);
  t.after(() => store.close());
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'debug', write: (line) => lines.push(JSON.parse(line)) });
  let cycle = 0;
  let clock = snapshots[0]!.takenAt;
  const now = () => clock;
  const sampler = new Sampler(config, store, log, { now, readerFactory: recordedReaders(() => cycle, now) });
  const metrics = new Metrics('test');
  metrics.declareNodes(config);
  const engine = RuleEngine.fromConfig(config, store, log);
  const outbox = new Outbox(store, new Map(), log, { expireAfterMs: 86400_000 });
  const pipeline = new CyclePipeline({ config, store, analyzer: new Analyzer(config, store, log, now), metrics, engine, outbox, log, skippedCycles: () => 0, now });
  t.after(() => pipeline.close());
  const storeFailures = () => lines.filter((l) => l.msg === 'cycle step failed: store');

  const other = new Database(file);
  t.after(() => other.close());
  other.exec('BEGIN IMMEDIATE'); // holds the write lock, as a backup or a manual session could

  const first = (await sampler.runCycle())!;
  const analyses = await pipeline.run(first);
  assert.equal(analyses.length, 1, 'the analysis ran');
  assert.ok(
    analyses[0]!.nodes.every((n) => n.reachable && n.gcacheSizeBytes !== null),
    'from memory, settings included',
  );
  assert.equal(store.writeHealth().ok, false);
  assert.equal(store.writeHealth().reason, 'SQLITE_BUSY');
  await metrics.renderCache();
  const text = await metrics.render();
  assert.match(text, /gcache_advisor_store_writable 0/);
  assert.match(text, /gcache_advisor_store_errors_total\{code="SQLITE_BUSY"\} [1-9]/);
  assert.match(text, /galera_gcache_size_bytes\{cluster="c",node="a"\}/);

  cycle = 1;
  clock = snapshots[1]!.takenAt;
  await pipeline.run((await sampler.runCycle())!);
  assert.equal(storeFailures().length, 1, 'one log line for the minute, not one per cycle');
  assert.match(String((storeFailures()[0]!.err as { message: string }).message), /locked|busy/i);

  clock += 61_000;
  await pipeline.run((await sampler.runCycle())!);
  assert.equal(storeFailures().length, 2, 'a minute later, one more line');
  assert.ok(Number(storeFailures()[1]!.suppressedSinceLast) > 0);

  other.exec('COMMIT');
  clock += 10_000;
  await pipeline.run((await sampler.runCycle())!);
  assert.equal(store.writeHealth().ok, true, 'writing resumed');
  for (const node of ['a', 'b', 'd']) {
    assert.equal(store.sampleCount('c', node), 1, 'the cycle after the lock is stored');
    assert.ok(store.latestSettings('c', node), `settings of ${node} stored once the lock was gone`);
  }
  assert.equal(lines.filter((l) => l.msg === 'new counter epoch').length, 0, 'the recorded nodes never looked restarted');
  await sampler.stop();
});

test('labelled counters exist at 0 for every configured node and every known reason and kind from the first scrape', async () => {
  const config = parseConfig(`clusters: [{ name: c, connection: { user: u, passwordEnv: PW }, nodes: [{ name: a, host: h1 }, { name: b, host: h2 }] }]`, 'test.yaml', { PW: 'x' });
  const metrics = new Metrics('test');
  metrics.declareNodes(config);
  const text = await metrics.render();
  for (const node of ['a', 'b']) {
    for (const reason of ['timeout', 'unreachable', 'auth', 'not_galera', 'bad_value', 'query', 'tls_config']) {
      assert.match(text, new RegExp(`gcache_advisor_sample_errors_total\\{cluster="c",node="${node}",reason="${reason}"\\} 0`));
    }
    for (const kind of ['page_store_purge', 'gcache_reset']) assert.match(text, new RegExp(`galera_gcache_history_drops_total\\{cluster="c",node="${node}",kind="${kind}"\\} 0`));
  }
  assert.match(text, /gcache_advisor_store_errors_total\{code="SQLITE_FULL"\} 0/);
});

test("a minute's analysis row rolled back with its cycle is written by the next cycle of that minute", (t) => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-recorder-')), 'ga.db');
  const store = new Store(file);
  t.after(() => store.close());
  const recorder = new AnalysisRecorder(store);
  const minuteStart = Math.floor(Date.now() / 60_000) * 60_000;
  const analysis = (now: number) =>
    analyzeCluster({
      cluster: 'c',
      now,
      targetWindowSeconds: 3600,
      shortHorizonSeconds: 300,
      longHorizonSeconds: 86400,
      nodes: [{ name: 'a', points: [], reachable: false, localState: null, clusterStatus: null, segment: null, settings: null, minutes: [], purgesSeen: 0 }],
    });
  const rows = () => queryCount(file, 'SELECT COUNT(*) AS n FROM cluster_analysis');

  store.beginCycle();
  recorder.record([analysis(minuteStart + 1_000)]);
  store.rollbackCycle(); // the commit failed (a full disk): the row is gone
  recorder.rolledBack();
  assert.equal(rows(), 0);
  recorder.flush(); // a stop now still writes the latest analysis
  assert.equal(store.latestAnalyses()[0]?.computedAt, minuteStart + 1_000);

  store.beginCycle();
  recorder.record([analysis(minuteStart + 11_000)]);
  store.commitCycle();
  recorder.committed();
  assert.equal(rows(), 1, 'the next cycle of the minute wrote it');

  store.beginCycle();
  recorder.record([analysis(minuteStart + 21_000)]);
  store.commitCycle();
  recorder.committed();
  assert.equal(rows(), 1, 'and once written, the minute is not written again');
});

function queryCount(file: string, sql: string): number {
  const conn = new Database(file, { readonly: true });
  try {
    return (conn.prepare(sql).get() as { n: number }).n;
  } finally {
    conn.close();
  }
}
