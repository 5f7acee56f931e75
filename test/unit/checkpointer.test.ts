/**
 * The checkpointer on a real SQLite file: the daemon's connection no longer checkpoints on commit;
 * when asked, the WAL is synced, copied into the database file on the daemon's connection with a
 * read transaction pinning it, and the database file synced before the WAL may start over. A
 * failed checkpoint makes the store not writable until one succeeds on the daemon's connection (a
 * real full disk: test/integration/faults-disk-full.test.ts). Where a sync must fail or wait, the
 * test passes its own sync function; SQLite and the files are real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/store.ts';
import { Checkpointer } from '../../src/store/checkpointer.ts';
import { createLogger } from '../../src/log/logger.ts';

function writeRows(store: Store, rows: number): void {
  // Far more than SQLite's 1,000-page threshold, in one transaction, as a fleet's cycle writes.
  store.db.exec('CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, body TEXT)');
  const insert = store.db.prepare('INSERT INTO filler (body) VALUES (?)');
  store.db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run('x'.repeat(200) + i);
  })();
}

const quiet = () => createLogger({ level: 'error', write: () => {} });

/** A store on a fresh file, removed after `fn`. */
async function withStore(fn: (store: Store, file: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'));
  const file = path.join(dir, 'store.db');
  const store = new Store(file);
  try {
    await fn(store, file);
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const walBytes = (file: string) => fs.statSync(`${file}-wal`).size;

/** A sync that really syncs, noting which file. */
function recordingSync(synced: string[]): (file: string) => Promise<void> {
  return async (file) => {
    synced.push(path.basename(file));
    const fd = fs.openSync(file, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };
}

test('commits leave the WAL to the checkpointer, which syncs it, moves all of it into the database file, then syncs that', async () => {
  await withStore(async (store, file) => {
    const lines: string[] = [];
    const synced: string[] = [];
    const log = createLogger({ level: 'debug', write: (line: string) => void lines.push(line) });
    const checkpointer = store.startCheckpointer(log, { syncFile: recordingSync(synced) });
    assert.ok(checkpointer, 'a store on disk starts its checkpointer');
    try {
      assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0, 'the daemon connection no longer checkpoints on commit');
      writeRows(store, 30_000);
      const walFrames = walBytes(file) / 4096;
      assert.ok(walFrames > 1000, `the WAL holds ${walFrames} pages: nothing was checkpointed on commit`);
      const result = await checkpointer.request();
      assert.ok(result, `a result (log: ${lines.join('\n')})`);
      assert.equal(result.busy, false);
      assert.ok(result.log > 1000, `${result.log} frames`);
      assert.equal(result.checkpointed, result.log, 'every frame moved into the database file');
      assert.deepEqual(synced, ['store.db-wal', 'store.db'], 'the WAL synced before the copy, the database file after');
      assert.ok(result.loopMs <= result.ms);
      assert.equal(store.db.pragma('synchronous', { simple: true }), 1, 'the connection is back to synchronous=NORMAL');
      // The database file alone, without its WAL, holds every row.
      const alone = path.join(path.dirname(file), 'alone.db');
      fs.copyFileSync(file, alone);
      const copy = new Database(alone);
      assert.equal((copy.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, 30_000);
      copy.close();
      // Requests made while one runs are answered by one more: all of them.
      writeRows(store, 5_000);
      const answers = await Promise.all([checkpointer.request(), checkpointer.request(), checkpointer.request()]);
      for (const a of answers) assert.ok(a && a.checkpointed === a.log, JSON.stringify(a));
      // What was moved is in the database file: a fresh connection reads it after the WAL is gone.
      await checkpointer.close();
      assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'closing hands checkpoints back to SQLite');
      assert.equal(await checkpointer.request(), null, 'a closed checkpointer answers null');
      store.close();
      assert.ok(!fs.existsSync(`${file}-wal`) || walBytes(file) === 0, 'the WAL is gone once the last connection closes');
      const reopened = new Store(file);
      assert.equal((reopened.db.prepare('SELECT count(*) AS n FROM filler').get() as { n: number }).n, 35_000);
      reopened.close();
    } finally {
      await checkpointer.close();
    }
  });
});

test('no commit writes over the WAL before the database file is synced', async () => {
  await withStore(async (store, file) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let dbSyncAsked!: () => void;
    const copied = new Promise<void>((resolve) => (dbSyncAsked = resolve));
    const checkpointer = store.startCheckpointer(quiet(), {
      syncFile: async (f) => {
        if (f.endsWith('-wal')) return;
        dbSyncAsked();
        await gate;
      },
    })!;
    try {
      writeRows(store, 2_000);
      const before = walBytes(file);
      const pending = checkpointer.request();
      await copied;
      // Copied, the database file not yet synced. Were the WAL started over, this commit would
      // be written from its start and the file keep its size.
      writeRows(store, 10);
      assert.ok(walBytes(file) > before, 'the commit was appended: the WAL still holds every frame copied');
      release();
      const result = await pending;
      assert.ok(result && result.checkpointed === result.log, `the frames there were at the copy (${JSON.stringify(result)})`);
      const rest = await checkpointer.request();
      assert.ok(rest && rest.checkpointed === rest.log && rest.log > result.log, `then those of the commit (${JSON.stringify(rest)})`);
      // Synced, copied and nobody reading: the next commit starts the WAL over.
      const size = walBytes(file);
      writeRows(store, 10);
      assert.equal(walBytes(file), size, 'the WAL started over');
    } finally {
      release();
      await checkpointer.close();
    }
  });
});

test('frames committed while the WAL syncs are synced again before they are copied', async () => {
  await withStore(async (store, file) => {
    const synced: string[] = [];
    const sync = recordingSync(synced);
    const outsider = new Database(file);
    // Writes that land during the next syncs of the WAL: the daemon's connection's, another's.
    let writers: Array<() => void> = [];
    const checkpointer = store.startCheckpointer(quiet(), {
      syncFile: async (f) => {
        await sync(f);
        if (f.endsWith('-wal')) writers.shift()?.();
      },
    })!;
    try {
      writeRows(store, 2_000);
      writers = [() => outsider.prepare('INSERT INTO filler (body) VALUES (?)').run('outside'), () => writeRows(store, 10)];
      const result = await checkpointer.request();
      assert.deepEqual(synced, ['store.db-wal', 'store.db-wal', 'store.db-wal', 'store.db'], 'synced again after each write');
      assert.ok(result && result.checkpointed === result.log, JSON.stringify(result));

      // Writes during every sync: given up for now, nothing copied.
      synced.length = 0;
      writers = Array.from({ length: 3 }, () => () => writeRows(store, 10));
      assert.equal(await checkpointer.request(), null);
      assert.deepEqual(synced, ['store.db-wal', 'store.db-wal', 'store.db-wal'], 'the database file is not synced: nothing was copied');
      const next = await checkpointer.request();
      assert.ok(next && next.checkpointed === next.log, `the next request moves them (${JSON.stringify(next)})`);
    } finally {
      outsider.close();
      await checkpointer.close();
    }
  });
});

test('a transaction that commits while the WAL syncs has it synced again before the copy', async () => {
  await withStore(async (store) => {
    const synced: string[] = [];
    const sync = recordingSync(synced);
    let commitDuringSync: (() => void) | null = null;
    const checkpointer = store.startCheckpointer(quiet(), {
      syncFile: async (f) => {
        await sync(f);
        if (f.endsWith('-wal')) commitDuringSync?.();
        commitDuringSync = null;
      },
    })!;
    try {
      writeRows(store, 2_000);
      // A cycle's transaction, its statements all run, only its commit to come: a commit moves
      // no change count, yet it is what puts the frames in the WAL.
      store.beginCycle();
      store.recordEvent({ at: Date.now(), cluster: 'c', node: 'n', kind: 'test', detail: {} });
      commitDuringSync = () => store.commitCycle();
      const result = await checkpointer.request();
      assert.deepEqual(synced, ['store.db-wal', 'store.db-wal', 'store.db'], 'the WAL synced again after the commit');
      assert.ok(result && result.checkpointed === result.log, JSON.stringify(result));
    } finally {
      if (store.db.inTransaction) store.rollbackCycle();
      await checkpointer.close();
    }
  });
});

test('a checkpoint that throws is a failed one, and the next request is answered', async () => {
  await withStore(async (store, file) => {
    let failing = true;
    const owner = {
      ...store.checkpoints,
      writeMark: () => {
        if (failing) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_READ' });
        return store.checkpoints.writeMark();
      },
    };
    const checkpointer = new Checkpointer(file, owner, quiet());
    try {
      writeRows(store, 2_000);
      assert.equal(await checkpointer.request(), null);
      assert.equal(store.writeHealth().reason, 'SQLITE_IOERR_READ');
      failing = false;
      store.recordEvent({ at: Date.now(), cluster: 'c', node: 'n', kind: 'test', detail: {} });
      assert.equal(store.writeHealth().ok, true, "the store's own checkpoint was paid");
      writeRows(store, 100);
      const result = await checkpointer.request();
      assert.ok(result && result.checkpointed === result.log, `answered again (${JSON.stringify(result)})`);
    } finally {
      await checkpointer.close();
    }
  });
});

test('a process that exits between the copy and its sync syncs the database file before the store closes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'));
  const file = path.join(dir, 'store.db');
  const marker = path.join(dir, 'marker');
  const modules = (name: string) => JSON.stringify(pathToFileURL(path.join(import.meta.dirname, '..', '..', 'src', name)).href);
  // The database file's sync is where an uncaught error ends the process (exit code 3).
  const code = `
    import fs from 'node:fs';
    import path from 'node:path';
    import { Store } from ${modules('store/store.ts')};
    import { createLogger } from ${modules('log/logger.ts')};
    const store = new Store(${JSON.stringify(file)});
    const note = (line) => fs.appendFileSync(${JSON.stringify(marker)}, line + '\\n');
    const checkpointer = store.startCheckpointer(createLogger({ level: 'error', write: () => {} }), {
      syncFile: async (f) => { if (!f.endsWith('-wal')) { note('copied'); process.exit(3); } },
      syncFileNow: (f) => note('synced at exit ' + path.basename(f)),
    });
    store.db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = store.db.prepare('INSERT INTO filler (body) VALUES (?)');
    store.db.transaction(() => { for (let i = 0; i < 2000; i++) insert.run('x'.repeat(200) + i); })();
    await checkpointer.request();
  `;
  try {
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.equal(child.status, 3, child.stderr);
    assert.equal(fs.readFileSync(marker, 'utf8'), 'copied\nsynced at exit store.db\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const ioError = () => Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });

test('a failed sync of the WAL is a failed write: the store is not writable until its own checkpoint succeeds', async () => {
  await withStore(async (store) => {
    let failing = true;
    const checkpointer = store.startCheckpointer(quiet(), {
      syncFile: async () => {
        if (failing) throw ioError();
      },
    })!;
    try {
      writeRows(store, 2_000);
      assert.equal(await checkpointer.request(), null);
      assert.deepEqual({ ok: store.writeHealth().ok, reason: store.writeHealth().reason }, { ok: false, reason: 'SQLITE_IOERR_FSYNC' });
      assert.equal(store.writeErrors.get('SQLITE_IOERR_FSYNC'), 1);
      assert.equal(store.checkpoints.owed(), true);
      failing = false;
      assert.equal(await checkpointer.request(), null, 'not used while the store owes a checkpoint');
      store.recordEvent({ at: Date.now(), cluster: 'c', node: 'n', kind: 'test', detail: {} });
      assert.equal(store.writeHealth().ok, true, "the next write paid the checkpoint with SQLite's own syncs, then landed");
      writeRows(store, 100);
      const result = await checkpointer.request();
      assert.ok(result && result.checkpointed === result.log, JSON.stringify(result));
    } finally {
      await checkpointer.close();
    }
  });
});

test('a failed sync of the database file after a copy keeps the WAL pinned and says the file is lost', async () => {
  await withStore(async (store, file) => {
    const lost: unknown[] = [];
    const checkpointer = store.startCheckpointer(quiet(), {
      syncFile: async (f) => {
        if (!f.endsWith('-wal')) throw ioError();
      },
      onSyncLost: (err) => lost.push(err),
    })!;
    writeRows(store, 2_000);
    assert.equal(await checkpointer.request(), null);
    assert.equal(lost.length, 1, 'onSyncLost was called');
    assert.equal(store.writeHealth().reason, 'SQLITE_IOERR_FSYNC');
    const size = walBytes(file);
    writeRows(store, 10);
    assert.ok(walBytes(file) > size, 'the WAL is not started over: it keeps every frame for the next start');
    assert.equal(await checkpointer.request(), null, 'no more checkpoints here');
    await checkpointer.close();
    store.close();
    assert.ok(walBytes(file) > size, 'closing the store neither checkpointed nor deleted the WAL');
  });
});

test('after a failed checkpoint the store is not writable, and the checkpointer not used, until the whole WAL is in the database file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpointer-'));
  const file = path.join(dir, 'store.db');
  const store = new Store(file);
  const checkpointer = new Checkpointer(file, store.checkpoints, quiet());
  const reader = new Database(file, { readonly: true });
  const event = () => store.recordEvent({ at: Date.now(), cluster: 'c', node: 'n', kind: 'test', detail: {} });
  try {
    writeRows(store, 2_000);
    // What the checkpointer reports when its copy throws (a full disk).
    store.checkpoints.failedInBackground('SQLITE_FULL');
    assert.deepEqual({ ok: store.writeHealth().ok, reason: store.writeHealth().reason }, { ok: false, reason: 'SQLITE_FULL' });
    assert.equal(store.writeErrors.get('SQLITE_FULL'), 1);
    assert.equal(await checkpointer.request(), null, 'the checkpointer is not used while a checkpoint is owed');

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
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 0, "checkpoints are still the checkpointer's");
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
    assert.equal(store.startCheckpointer(quiet()), null);
    assert.equal(store.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
  } finally {
    store.close();
  }
});
