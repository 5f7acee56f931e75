/**
 * The background checkpointer on a real SQLite file: the daemon's connection no longer
 * checkpoints on commit, a worker's connection moves the whole WAL into the database file when
 * asked, and closing it hands checkpoints back to SQLite's default. A failed background
 * checkpoint makes the store not writable until one succeeds on the daemon's connection (a real
 * full disk: test/integration/faults-disk-full.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/store.ts';
import { BackgroundCheckpointer } from '../../src/store/checkpointer.ts';
import { createLogger } from '../../src/log/logger.ts';

function writeRows(store: Store, rows: number): void {
  // Far more than SQLite's 1,000-page threshold, in one transaction, as a fleet's cycle writes.
  store.db.exec('CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT)');
  const insert = store.db.prepare('INSERT INTO filler (body) VALUES (?)');
  store.db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run('x'.repeat(200) + i);
  })();
}

test('commits leave the WAL to the worker, which moves all of it into the database file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'));
  const file = path.join(dir, 'store.db');
  const store = new Store(file);
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', write: (line: string) => void lines.push(line) });
  const checkpointer = store.startCheckpointer(log);
  assert.ok(checkpointer, 'a store on disk starts its checkpointer');
  try {
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0, 'the daemon connection no longer checkpoints on commit');
    writeRows(store, 30_000);
    const walFrames = fs.statSync(`${file}-wal`).size / 4096;
    assert.ok(walFrames > 1000, `the WAL holds ${walFrames} pages: nothing was checkpointed on commit`);
    const result = await checkpointer.request();
    assert.ok(result, `a result (log: ${lines.join('\n')})`);
    assert.equal(result.busy, false);
    assert.ok(result.log > 1000, `${result.log} frames`);
    assert.equal(result.checkpointed, result.log, 'every frame moved into the database file');
    // Requests made while one runs are folded into one more: all of them are answered.
    writeRows(store, 5_000);
    const answers = await Promise.all([checkpointer.request(), checkpointer.request(), checkpointer.request()]);
    for (const a of answers) assert.ok(a && a.checkpointed === a.log, JSON.stringify(a));
    // What was moved is in the database file: a fresh connection reads it after the WAL is gone.
    await checkpointer.close();
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'closing hands checkpoints back to SQLite');
    assert.equal(await checkpointer.request(), null, 'a closed checkpointer answers null');
    store.close();
    assert.ok(!fs.existsSync(`${file}-wal`) || fs.statSync(`${file}-wal`).size === 0, 'the WAL is gone once the last connection closes');
    const reopened = new Store(file);
    assert.equal((reopened.db.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, 35_000);
    reopened.close();
  } finally {
    await checkpointer.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('after a failed checkpoint the store is not writable, and the worker not asked, until the whole WAL is in the database file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'));
  const file = path.join(dir, 'store.db');
  const store = new Store(file);
  const checkpointer = new BackgroundCheckpointer(file, store.checkpoints, createLogger({ level: 'error', write: () => {} }));
  const reader = new Database(file, { readonly: true });
  const event = () => store.recordEvent({ at: Date.now(), cluster: 'c', node: 'n', kind: 'test', detail: {} });
  try {
    writeRows(store, 2_000);
    // What the checkpointer reports when the worker's checkpoint throws (a full disk).
    store.checkpoints.failedInBackground('SQLITE_FULL');
    assert.deepEqual({ ok: store.writeHealth().ok, reason: store.writeHealth().reason }, { ok: false, reason: 'SQLITE_FULL' });
    assert.equal(store.writeErrors.get('SQLITE_FULL'), 1);
    assert.equal(await checkpointer.request(), null, 'the worker is not asked while a checkpoint is owed');

    // A reader holds a snapshot that needs the WAL: the owed checkpoint cannot truncate it, so a
    // write that lands meanwhile proves nothing.
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM filler').get();
    event();
    assert.equal(store.writeHealth().ok, false, 'a write landing in the WAL is no proof while the WAL cannot be emptied');
    assert.ok(fs.statSync(`${file}-wal`).size > 0);
    reader.exec('COMMIT');

    // Nobody holds it: the next write empties the WAL into the database file first, then lands.
    event();
    assert.equal(store.writeHealth().ok, true);
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0, "checkpoints are still the worker's");
    writeRows(store, 2_000);
    const result = await checkpointer.request();
    assert.ok(result && result.checkpointed === result.log && result.log > 0, JSON.stringify(result));
  } finally {
    reader.close();
    await checkpointer.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a store in memory has no file to sync: no checkpointer, and SQLite keeps its own checkpoints', () => {
  const store = new Store(':memory:');
  try {
    assert.equal(store.startCheckpointer(createLogger({ level: 'error', write: () => {} })), null);
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
  } finally {
    store.close();
  }
});
