import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store, type StoredSample } from '../../src/store/store.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';
import { parseStatusRows } from '../../src/sampler/status.ts';
import { sampleDelta } from '../../src/sampler/epoch.ts';

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/real-cluster.json', import.meta.url), 'utf8'));
const tmpDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ga-store-')), 'sub', 'ga.db');

function sampleAt(takenAt: number, lastCommitted: number, bytes: number, epoch = 1): StoredSample {
  const status = parseStatusRows(fixture.node2.afterWrites.rows);
  return { cluster: 'c', node: 'n', takenAt, epoch, durationMs: 2, status: { ...status, lastCommitted, receivedBytes: bytes, replicatedBytes: 0 } };
}

test('a new database is migrated to the latest version, in WAL mode', () => {
  const file = tmpDb();
  const store = new Store(file);
  assert.equal(store.db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  store.close();
  const again = new Store(file); // idempotent on reopen
  assert.equal(again.db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  again.close();
});

test("the connection's page cache is the one asked for, and better-sqlite3's 16 MB without it", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-store-cache-'));
  try {
    const sized = new Store(path.join(dir, 'sized.db'), { cacheSizeBytes: 2 * 1024 * 1024 });
    assert.equal(sized.db.pragma('cache_size', { simple: true }), -2048);
    sized.close();
    const unsized = new Store(path.join(dir, 'unsized.db'));
    assert.equal(unsized.db.pragma('cache_size', { simple: true }), -16000);
    unsized.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a database from a newer version is refused', () => {
  const file = tmpDb();
  new Store(file).close();
  const db = new Database(file);
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  db.close();
  assert.throws(() => new Store(file), /newer than this gcache-advisor knows/);
});

test('samples round-trip, rollups sum deltas per minute and never cross an epoch', () => {
  const store = new Store(tmpDb());
  const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
  const a = sampleAt(t0 + 5_000, 100, 1_000);
  const b = sampleAt(t0 + 15_000, 110, 3_000);
  const c = sampleAt(t0 + 25_000, 130, 7_000);
  const d = sampleAt(t0 + 35_000, 5, 100, 2); // restarted: new epoch, no delta
  store.recordSample(a, null);
  store.recordSample(b, sampleDelta(a, b));
  store.recordSample(c, sampleDelta(b, c));
  store.recordSample(d, null);
  assert.deepEqual(
    store.samples('c', 'n', t0, t0 + 60_000).map((s) => s.status.lastCommitted),
    [100, 110, 130, 5],
  );
  const rollups = store.rollups('c', 'n', t0, t0 + 60_000);
  assert.equal(rollups.length, 1, 'the first-of-epoch sample adds no rollup row');
  assert.deepEqual({ ...rollups[0] }, { minute: t0, epoch: 1, seconds: 20, bytes: 6_000, writeSets: 30, samples: 2, lastAt: t0 + 25_000, lastCommitted: 130 });
  assert.equal(store.latestSample('c', 'n')!.epoch, 2);
  assert.equal(store.latestSample('c', 'n')!.status.localStateUuid, a.status.localStateUuid, 'the uuids come back from the epoch table');
  assert.equal(store.latestSample('c', 'other'), null);
  store.close();
});

test('retention deletes old rows in batches and keeps recent ones', () => {
  const store = new Store(tmpDb());
  const now = Date.UTC(2026, 10, 22);
  const insert = store.db.transaction(() => {
    for (let i = 0; i < 12_000; i++) store.recordSample(sampleAt(now - 3 * 86400_000 + i, i, i), null);
    for (let i = 0; i < 10; i++) store.recordSample(sampleAt(now - 1000 + i, 20_000 + i, i), null);
  });
  insert();
  store.recordFailure({ cluster: 'c', node: 'n', takenAt: now - 3 * 86400_000, reason: 'timeout', message: 'x' });
  const deleted = store.applyRetention(now, 2 * 86400, 90 * 86400);
  assert.equal(deleted, 12_001);
  assert.equal(store.sampleCount('c', 'n'), 10);
  store.close();
});

test('settings and events are kept per node', () => {
  const store = new Store(tmpDb());
  store.recordSettings({
    cluster: 'c',
    node: 'n',
    epoch: 1,
    readAt: 1,
    sizeBytes: 8 << 20,
    pageSizeBytes: 128 << 20,
    keepPagesSizeBytes: 0,
    recover: true,
    segment: 0,
    sstDonor: '',
  });
  store.recordSettings({
    cluster: 'c',
    node: 'n',
    epoch: 2,
    readAt: 2,
    sizeBytes: 16 << 20,
    pageSizeBytes: 128 << 20,
    keepPagesSizeBytes: 0,
    recover: false,
    segment: 1,
    sstDonor: 'node1',
  });
  assert.deepEqual(store.latestSettings('c', 'n'), {
    cluster: 'c',
    node: 'n',
    epoch: 2,
    readAt: 2,
    sizeBytes: 16 << 20,
    pageSizeBytes: 128 << 20,
    keepPagesSizeBytes: 0,
    recover: false,
    segment: 1,
    sstDonor: 'node1',
  });
  assert.equal(store.latestSettings('c', 'other'), null);
  store.recordEvent({ cluster: 'c', node: 'n', at: 5, kind: 'epoch_start', detail: { epoch: 2 } });
  assert.deepEqual(store.events('c', 'n', 0, 10), [{ cluster: 'c', node: 'n', at: 5, kind: 'epoch_start', detail: { epoch: 2 } }]);
  store.close();
});

test('a transaction that rolls back forgets the epoch row it wrote: the next sample of that epoch writes it again', () => {
  const store = new Store(tmpDb());
  const first = sampleAt(1_000, 1, 1);
  assert.throws(
    () =>
      store.transaction(() => {
        store.recordSample(first, null);
        throw new Error('abandoned');
      }),
    /abandoned/,
  );
  assert.equal(store.sampleCount('c', 'n'), 0);
  store.recordSample(sampleAt(2_000, 2, 2), null);
  assert.equal(store.latestSample('c', 'n')!.status.localStateUuid, first.status.localStateUuid, 'the uuids are stored, not read back empty');
  store.close();
});

test('writes join the open cycle transaction and go with its rollback, the epoch row included', () => {
  const store = new Store(tmpDb());
  store.beginCycle();
  store.recordSample(sampleAt(1_000, 1, 1), null);
  store.recordEvent({ cluster: 'c', node: 'n', at: 1, kind: 'epoch_start', detail: {} });
  store.rollbackCycle();
  assert.equal(store.sampleCount('c', 'n'), 0);
  assert.deepEqual(store.events('c', 'n', 0, 10), []);
  store.recordSample(sampleAt(2_000, 2, 2), null);
  assert.notEqual(store.latestSample('c', 'n')!.status.localStateUuid, '');
  store.close();
});
