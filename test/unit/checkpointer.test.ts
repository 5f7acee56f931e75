/**
 * The background checkpointer on a real SQLite file: the daemon's connection no longer
 * checkpoints on commit, a worker's connection moves the whole WAL into the database file when
 * asked, and closing it hands checkpoints back to SQLite's default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  const checkpointer = new BackgroundCheckpointer(file, store, log);
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
