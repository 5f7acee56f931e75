/**
 * The database lock on real files and real processes: refused while held, named by the pid that
 * holds it, free again the instant its holder is killed with -9, and exactly one winner when
 * daemons start together. Read-only locations are covered in test/integration/lock.test.ts, which
 * mounts a read-only file system.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { tracked } from '../support/children.ts';
import { acquireDatabaseLock, checkDatabaseWritable, lockFileFor, DatabaseUnavailableError } from '../../src/store/lock.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-lock-'));
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

const LOCK_MODULE = path.join(import.meta.dirname, '..', '..', 'src', 'store', 'lock.ts');

/**
 * A process that tries to take the lock, prints "won" or "lost <message>" and then stays alive
 * (holding the lock if it won) until killed.
 */
function contender(db: string, waitMs?: number): { child: ChildProcess; verdict: Promise<string> } {
  const code = `
    import { acquireDatabaseLock } from ${JSON.stringify(LOCK_MODULE)};
    let line;
    try { acquireDatabaseLock(${JSON.stringify(db)}, ${JSON.stringify(waitMs === undefined ? {} : { waitMs })}); line = 'won'; } catch (err) { line = 'lost ' + err.message; }
    process.stdout.write(line + '\\n');
    setInterval(() => {}, 60_000);
  `;
  const child = tracked(spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] }));
  children.add(child);
  const verdict = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', (code) => reject(new Error(`contender exited with ${code} before deciding`)));
  });
  return { child, verdict };
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  children.delete(child);
}

function refusal(fn: () => unknown): DatabaseUnavailableError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DatabaseUnavailableError, `a DatabaseUnavailableError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message.split('\n').length, 1, 'one line');
    return err;
  }
  assert.fail('expected a refusal');
}

test('a held lock refuses a second holder, and a released one can be taken again', () => {
  const db = path.join(tmp, 'one', 'advisor.db');
  const lock = acquireDatabaseLock(db);
  assert.equal(lock.lockFile, lockFileFor(db));
  assert.equal(lock.lockFile, `${db}.lock`);
  assert.ok(fs.existsSync(lock.lockFile), 'the lock file sits next to the database');
  const err = refusal(() => acquireDatabaseLock(db));
  assert.equal(err.message, `gcache-advisor: ${db} is in use by another gcache-advisor (pid ${process.pid}); one daemon per database`);
  lock.release();
  lock.release();
  const again = acquireDatabaseLock(db);
  again.release();
});

test('the lock does not stop readers of the database', () => {
  const db = path.join(tmp, 'readers', 'advisor.db');
  fs.mkdirSync(path.dirname(db));
  const writer = new Database(db);
  writer.pragma('journal_mode = WAL');
  writer.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)');
  const lock = acquireDatabaseLock(db);
  try {
    const reader = new Database(db, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT x FROM t').all(), [{ x: 42 }]);
    reader.close();
    writer.exec('INSERT INTO t VALUES (43)');
  } finally {
    lock.release();
    writer.close();
  }
});

test('another process holding the lock is named by its pid; kill -9 frees the lock at once', async () => {
  const db = path.join(tmp, 'crash', 'advisor.db');
  const holder = contender(db);
  assert.equal(await holder.verdict, 'won');
  const err = refusal(() => acquireDatabaseLock(db));
  assert.equal(err.message, `gcache-advisor: ${db} is in use by another gcache-advisor (pid ${holder.child.pid}); one daemon per database`);
  await kill9(holder.child);
  const lock = acquireDatabaseLock(db, { waitMs: 0 });
  lock.release();
});

test('daemons starting at the same instant: exactly one wins, the others name it', async () => {
  const db = path.join(tmp, 'race', 'advisor.db');
  fs.mkdirSync(path.dirname(db));
  // A short wait keeps the rounds quick: each loser's refusal costs one wait, and they queue.
  for (let round = 0; round < 3; round++) {
    const racers = Array.from({ length: 6 }, () => contender(db, 100));
    const verdicts = await Promise.all(racers.map((r) => r.verdict));
    const winners = racers.filter((_, i) => verdicts[i] === 'won');
    assert.equal(winners.length, 1, `round ${round}: one winner among ${JSON.stringify(verdicts)}`);
    const winnerPid = winners[0]!.child.pid;
    for (const verdict of verdicts.filter((v) => v !== 'won')) {
      assert.equal(verdict, `lost gcache-advisor: ${db} is in use by another gcache-advisor (pid ${winnerPid}); one daemon per database`);
    }
    await Promise.all(racers.map((r) => kill9(r.child)));
  }
});

test('two paths to one database share one lock', () => {
  const db = path.join(tmp, 'real', 'advisor.db');
  fs.mkdirSync(path.dirname(db));
  fs.writeFileSync(db, '');
  const link = path.join(tmp, 'link');
  fs.symlinkSync(path.dirname(db), link);
  const lock = acquireDatabaseLock(db);
  try {
    const viaLink = path.join(link, 'advisor.db');
    const err = refusal(() => acquireDatabaseLock(viaLink));
    assert.match(err.message, new RegExp(`^gcache-advisor: ${viaLink} is in use by another gcache-advisor \\(pid ${process.pid}\\)`));
    const relative = path.relative(process.cwd(), db);
    refusal(() => acquireDatabaseLock(relative));
  } finally {
    lock.release();
  }
});

test('a lock file that is not a SQLite database is reported, not overwritten', () => {
  const db = path.join(tmp, 'foreign', 'advisor.db');
  fs.mkdirSync(path.dirname(db));
  fs.writeFileSync(`${db}.lock`, '12345\nthis is a pid file from something else, long enough to be read as a header\n');
  const err = refusal(() => acquireDatabaseLock(db));
  assert.match(err.message, new RegExp(`^gcache-advisor: cannot lock ${db} through ${db}\\.lock \\(file is not a database\\); it is not a gcache-advisor lock file`));
  assert.match(fs.readFileSync(`${db}.lock`, 'utf8'), /^12345\n/);
});

test('a database path that cannot be a writable file is refused with the reason', () => {
  const notDir = path.join(tmp, 'plain-file');
  fs.writeFileSync(notDir, '');
  const underFile = path.join(notDir, 'sub', 'advisor.db');
  assert.equal(
    refusal(() => checkDatabaseWritable(underFile)).message,
    `gcache-advisor: cannot use the database ${underFile}: cannot create its directory ${path.dirname(underFile)} (ENOTDIR: not a directory)`,
  );
  const dirAsDb = path.join(tmp, 'a-directory');
  fs.mkdirSync(dirAsDb);
  assert.equal(refusal(() => acquireDatabaseLock(dirAsDb)).message, `gcache-advisor: cannot use the database ${dirAsDb}: it is a directory, not a file`);
  const fresh = path.join(tmp, 'new', 'deeper', 'advisor.db');
  checkDatabaseWritable(fresh);
  assert.ok(fs.statSync(path.dirname(fresh)).isDirectory(), 'the directory is created, as the store would');
  assert.deepEqual(fs.readdirSync(path.dirname(fresh)), [], 'the write probe leaves nothing behind');
});
