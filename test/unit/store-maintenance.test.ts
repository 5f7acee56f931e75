/**
 * The store's bounded work: history queries that average per step with a hard row limit,
 * retention that reaches the outbox and the alerts and runs in slices, and readiness that never
 * takes the write lock. Real SQLite files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store, NOTIFICATION_RETENTION_MS } from '../../src/store/store.ts';
import { RetentionRunner } from '../../src/pipeline/retention.ts';
import { createLogger } from '../../src/log/logger.ts';

const tmpDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-store-')), 'ga.db');

function insertNodeAnalysis(store: Store, cluster: string, node: string, times: number[], value = (i: number) => i): void {
  const stmt = store.db.prepare(`INSERT INTO node_analysis (cluster, node, computed_at, ring, measured_seconds) VALUES (?, ?, ?, 'full', ?)`);
  store.transaction(() => times.forEach((t, i) => stmt.run(cluster, node, t, value(i))));
}

test('/history buckets per step in integers: 2-day steps over 10-second rows give a few averaged points', () => {
  const store = new Store(tmpDb());
  const start = Date.UTC(2026, 0, 1);
  const times = Array.from({ length: 3 * 8640 }, (_, i) => start + i * 10_000); // 3 days at 10 s
  insertNodeAnalysis(store, 'c', 'n', times, () => 100);
  const rows = store.nodeAnalysisSeries('c', 'n', 0, start + 4 * 86400_000, 2 * 86400_000, 11_000);
  assert.ok(rows.length <= 3, `${rows.length} rows: every stored row became its own group`);
  assert.equal(
    rows.reduce((n, r) => n + (r.samples as number), 0),
    times.length,
  );
  assert.ok(rows.every((r) => r.measuredSeconds === 100));
  const minute = store.nodeAnalysisSeries('c', 'n', start, start + 599_999, 60_000, 11_000);
  assert.equal(minute.length, 10);
  assert.equal(minute[1]!.at, start + 60_000);
  assert.equal(minute[0]!.samples, 6);
  store.close();
});

test('/history has a hard row limit', () => {
  const store = new Store(tmpDb());
  insertNodeAnalysis(
    store,
    'c',
    'n',
    Array.from({ length: 500 }, (_, i) => 1_000_000 + i * 1000),
  );
  assert.equal(store.nodeAnalysisSeries('c', 'n', 0, 10_000_000, 1000, 100).length, 100);
  store.close();
});

test('retention deletes settled notifications and old resolved alerts, keeps what is open or pending', () => {
  const store = new Store(tmpDb());
  const now = Date.UTC(2026, 5, 1);
  const old = now - NOTIFICATION_RETENTION_MS - 86400_000;
  const ancient = now - 100 * 86400_000;
  const alert = (state: 'firing' | 'resolved', at: number) =>
    store.saveAlert({
      fingerprint: `f${at}${state}`,
      rule: 'R',
      severity: 'warning',
      labels: {},
      annotations: {},
      state,
      activeAt: at,
      firedAt: at,
      resolvedAt: state === 'resolved' ? at : null,
      lastNotifiedAt: at,
    });
  const resolvedOld = alert('resolved', ancient);
  const resolvedRecent = alert('resolved', now - 86400_000);
  const firingOld = alert('firing', ancient);
  store.enqueue({ sink: 's', alertId: resolvedRecent, kind: 'firing', idempotencyKey: 'delivered-old', payload: {}, now: old });
  store.enqueue({ sink: 's', alertId: resolvedRecent, kind: 'firing', idempotencyKey: 'expired-old', payload: {}, now: old });
  store.enqueue({ sink: 's', alertId: firingOld, kind: 'firing', idempotencyKey: 'pending-old', payload: {}, now: old });
  store.enqueue({ sink: 's', alertId: resolvedRecent, kind: 'resolved', idempotencyKey: 'delivered-recent', payload: {}, now: now - 1000 });
  const byKey = () => new Map(store.notifications(100).map((n) => [n.idempotencyKey, n]));
  store.markDelivered(byKey().get('delivered-old')!.id, old);
  store.markExpired(byKey().get('expired-old')!.id, old);
  store.markDelivered(byKey().get('delivered-recent')!.id, now - 1000);

  const deleted = store.applyRetention(now, 2 * 86400, 90 * 86400);
  assert.equal(deleted, 3);
  assert.deepEqual([...byKey().keys()].sort(), ['delivered-recent', 'pending-old']);
  const alerts = store.alertHistory(0, 100).map((a) => a.id);
  assert.ok(!alerts.includes(resolvedOld), 'an old resolved alert goes');
  assert.ok(alerts.includes(resolvedRecent) && alerts.includes(firingOld), 'recent and open alerts stay');
  store.close();
});

test('retention runs in slices: a backlog goes one small batch per step, spread over many calls', () => {
  const store = new Store(tmpDb());
  const now = Date.UTC(2026, 5, 1);
  const failure = store.db.prepare(`INSERT INTO sample_failures (cluster, node, taken_at, reason, message) VALUES ('c', 'n', ?, 'timeout', 'x')`);
  store.transaction(() => {
    for (let i = 0; i < 5_000; i++) failure.run(i);
    // Three nodes with four days of samples at 60 s: two days beyond the raw retention.
    for (const node of ['n1', 'n2', 'n3']) {
      for (let t = now - 4 * 86400_000; t < now; t += 60_000) {
        store.recordSample(
          {
            cluster: 'c',
            node,
            takenAt: t,
            epoch: 1,
            durationMs: 1,
            status: {
              receivedBytes: 0,
              replicatedBytes: 0,
              received: 0,
              replicated: 0,
              lastCommitted: 1,
              cachedDownto: 1,
              localState: 'Synced',
              clusterStatus: 'Primary',
              clusterSize: 3,
              localStateUuid: 'u',
              clusterStateUuid: 'u',
              segment: 0,
              flowControlPaused: 0,
              uptimeSeconds: 1,
            },
          },
          null,
        );
      }
    }
  });
  const before = ['n1', 'n2', 'n3'].map((n) => store.sampleCount('c', n));
  // A zero budget: every call does exactly one batch.
  const runner = new RetentionRunner(store, { rawSeconds: 2 * 86400, rollupSeconds: 90 * 86400 }, createLogger({ level: 'error', write: () => undefined }), 0);
  let calls = 0;
  let largest = 0;
  let remaining = store.sampleCount('c', 'n1') + store.sampleCount('c', 'n2') + store.sampleCount('c', 'n3') + 5_000;
  do {
    runner.step(now);
    calls++;
    const left =
      store.sampleCount('c', 'n1') +
      store.sampleCount('c', 'n2') +
      store.sampleCount('c', 'n3') +
      (store.db.prepare('SELECT COUNT(*) AS n FROM sample_failures').get() as { n: number }).n;
    largest = Math.max(largest, remaining - left);
    remaining = left;
  } while (runner.busy);
  assert.ok(calls > 100, `${calls} calls`);
  assert.ok(largest <= 500, `at most one batch per call (largest ${largest} rows)`);
  for (const [i, n] of ['n1', 'n2', 'n3'].entries()) assert.equal(store.sampleCount('c', n), before[i]! - 2 * 1440, `${n} keeps exactly the last two days`);
  assert.equal((store.db.prepare('SELECT COUNT(*) AS n FROM sample_failures').get() as { n: number }).n, 0);
  store.close();
});

test('readiness never takes the write lock: it answers at once while another connection holds it, and says why', () => {
  const file = tmpDb();
  const store = new Store(file);
  const other = new Database(file);
  other.prepare('BEGIN IMMEDIATE').run();
  try {
    const t = performance.now();
    assert.equal(store.writeHealth().ok, true);
    assert.ok(performance.now() - t < 5);
    // A write now fails fast (short busy timeout) and readiness reports it.
    const w = performance.now();
    assert.throws(() => store.recordEvent({ cluster: 'c', node: 'n', at: 1, kind: 'k', detail: {} }), /locked/);
    assert.ok(performance.now() - w < 1000, `the write gave up after ${(performance.now() - w).toFixed(0)} ms`);
    assert.deepEqual({ ok: store.writeHealth().ok, reason: store.writeHealth().reason }, { ok: false, reason: 'SQLITE_BUSY' });
    assert.equal(store.writeErrors.get('SQLITE_BUSY'), 1);
  } finally {
    other.prepare('ROLLBACK').run();
    other.close();
  }
  store.recordEvent({ cluster: 'c', node: 'n', at: 1, kind: 'k', detail: {} });
  assert.equal(store.writeHealth().ok, true);
  store.close();
});

test('a full store stays not ready until something is really written: a statement that changes nothing proves nothing', () => {
  const store = new Store(tmpDb());
  const pages = store.db.pragma('page_count', { simple: true }) as number;
  store.db.pragma(`max_page_count = ${pages}`); // SQLite's own way to a full database
  const big = { blob: 'x'.repeat(50_000) };
  assert.throws(() => {
    for (let i = 0; i < 100; i++) store.recordEvent({ cluster: 'c', node: 'n', at: i, kind: 'k', detail: big });
  }, /full/);
  assert.deepEqual({ ok: store.writeHealth().ok, reason: store.writeHealth().reason }, { ok: false, reason: 'SQLITE_FULL' });
  // The outbox's sweep runs every second and, with nothing to expire, succeeds on a full disk.
  assert.equal(store.expireStale(0, Date.now()), 0);
  assert.equal(store.writeHealth().ok, false, 'still not ready');
  store.db.pragma(`max_page_count = ${pages * 100}`);
  store.recordEvent({ cluster: 'c', node: 'n', at: 1, kind: 'k', detail: big });
  assert.equal(store.writeHealth().ok, true, 'ready once a write went through');
  store.close();
});
