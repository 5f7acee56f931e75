/**
 * One daemon per database, as a user meets it through the CLI: a second `serve` on the same file
 * is refused with one line naming the pid that holds it, the first carries on, `report` still
 * reads, a daemon killed with -9 leaves nothing that blocks the next start, and a read-only
 * location is refused at start with one line instead of a stack trace.
 *
 * No Galera sandbox: the configured node points at a closed loopback port, which the daemon
 * treats as an unreachable node and runs on. The read-only cases mount a read-only tmpfs and a
 * read-only bind mount, so this file needs root (as the rest of the integration suite does).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { runCli, spawnCli, PASSWORD_ENV } from './helpers.ts';
import { acquireDatabaseLock, checkDatabaseWritable, DatabaseUnavailableError } from '../../src/store/lock.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ga-lock-it-'));
const env = { [PASSWORD_ENV]: 'not-used-the-node-is-unreachable' };
const mounts: string[] = [];
const daemons = new Set<ChildProcess>();

after(() => {
  for (const child of daemons) child.kill('SIGKILL');
  for (const target of mounts.reverse()) {
    try {
      execFileSync('umount', [target]);
    } catch {
      // Still busy (a process we could not wait for): detach it now, the kernel finishes later.
      execFileSync('umount', ['-l', target]);
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A config whose only node is 127.0.0.1:1 (closed), with its own HTTP port chosen by the OS. */
function configFor(db: string): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'cfg-'));
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    file,
    `clusters:
  - name: c1
    connection: { user: u, passwordEnv: ${PASSWORD_ENV} }
    nodes: [{ name: n1, host: 127.0.0.1, port: 1 }]
storage: { path: ${db} }
http: { listen: 127.0.0.1:0 }
`,
  );
  return file;
}

interface Running {
  child: ChildProcess;
  url: string;
}

/** Spawns `serve` and resolves once it logs the address it listens on. */
function startServe(config: string): Promise<Running> {
  const child = spawnCli(['serve', '-c', config], env);
  daemons.add(child);
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start in 30 s; stderr: ${stderr}`)), 30_000);
    child.stderr!.on('data', (d) => {
      stderr += d;
      const url = /"msg":"http listening","url":"([^"]+)"/.exec(stderr)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ child, url });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
}

async function healthz(url: string): Promise<number> {
  return (await fetch(`${url}/healthz`)).status;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  daemons.delete(child);
}

function inUseLine(db: string, pid: number | undefined): string {
  return `gcache-advisor: ${db} is in use by another gcache-advisor (pid ${pid}); one daemon per database`;
}

const sharedDb = path.join(tmp, 'shared', 'advisor.db');
const sharedConfig = configFor(sharedDb);
let first: Running;

before(async () => {
  first = await startServe(sharedConfig);
});

// Needs the daemon to take the lock (acquireDatabaseLock in startDaemon, the CLI exit code).
test('a second serve on the same database exits 2 with one line naming it and the holder; the first carries on', async () => {
  assert.equal(await healthz(first.url), 200);
  const second = await runCli(['serve', '-c', configFor(sharedDb)], env, 30_000);
  assert.equal(second.stderr.trim(), inUseLine(sharedDb, first.child.pid), 'the one line');
  assert.equal(second.code, 2);
  assert.equal(first.child.exitCode, null, 'the first daemon still runs');
  assert.equal(await healthz(first.url), 200, 'and still answers');
  assert.throws(
    () => acquireDatabaseLock(sharedDb),
    (err: Error) => err instanceof DatabaseUnavailableError && err.message === inUseLine(sharedDb, first.child.pid),
  );
});

test('report reads the database while the daemon runs', async () => {
  // The first cycle stores an analysis (the node unreachable) just after the daemon listens.
  let r = await runCli(['report', '-c', sharedConfig], env);
  for (let i = 0; i < 20 && r.code !== 0; i++) {
    await new Promise((res) => setTimeout(res, 250));
    r = await runCli(['report', '-c', sharedConfig], env);
  }
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Cluster c1/);
  assert.match(r.stdout, /n1\s+UNREACHABLE/);
  const json = await runCli(['report', '-c', sharedConfig, '--json'], env);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout)[0].cluster, 'c1');
});

test('after kill -9 of the daemon, a new one starts on the same database at once and holds it', async () => {
  await kill9(first.child);
  assert.ok(fs.existsSync(`${sharedDb}.lock`), 'the lock file outlives its holder');
  const next = await startServe(sharedConfig);
  assert.equal(await healthz(next.url), 200);
  // Needs the daemon integration: the new daemon holds the lock in turn.
  const refused = await runCli(['serve', '-c', sharedConfig], env, 30_000);
  assert.equal(refused.stderr.trim(), inUseLine(sharedDb, next.child.pid));
  assert.equal(refused.code, 2);
  // A clean stop releases the lock: the database can be taken right after.
  const exited = once(next.child, 'exit');
  next.child.kill('SIGTERM');
  const [code] = await exited;
  daemons.delete(next.child);
  assert.equal(code, 0);
  acquireDatabaseLock(sharedDb, { waitMs: 0 }).release();
});

/** Read-only locations, each with the one line the daemon must print. */
function readOnlyCases(): Array<{ name: string; db: string; line: string }> {
  // An empty tmpfs mounted read-only: a new database in a directory that takes no files.
  const roDir = path.join(tmp, 'ro-dir');
  fs.mkdirSync(roDir);
  mount(['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', roDir]);
  // An existing database (with its WAL) on a tmpfs remounted read-only under it.
  const frozenDir = path.join(tmp, 'frozen-dir');
  fs.mkdirSync(frozenDir);
  mount(['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', frozenDir]);
  makeDatabase(path.join(frozenDir, 'advisor.db'), 'WAL');
  execFileSync('mount', ['-o', 'remount,ro', frozenDir]);
  // A read-only database file (bind-mounted read-only onto itself) in a writable directory.
  const roFileDir = path.join(tmp, 'ro-file');
  fs.mkdirSync(roFileDir);
  const roFile = path.join(roFileDir, 'advisor.db');
  makeDatabase(roFile, 'DELETE');
  mount(['--bind', roFile, roFile]);
  execFileSync('mount', ['-o', 'remount,ro,bind', roFile]);
  // A directory that cannot be created: under a regular file.
  const plainFile = path.join(tmp, 'plain-file');
  fs.writeFileSync(plainFile, '');
  const prefix = (db: string) => `gcache-advisor: cannot use the database ${db}:`;
  const cases = [
    { name: 'read-only directory, new database', db: path.join(roDir, 'advisor.db'), line: `its directory ${roDir} is not writable (EROFS: read-only file system)` },
    {
      name: 'directory to create on a read-only file system',
      db: path.join(roDir, 'sub', 'advisor.db'),
      line: `cannot create its directory ${path.join(roDir, 'sub')} (EROFS: read-only file system)`,
    },
    {
      name: 'existing database on a read-only file system',
      db: path.join(frozenDir, 'advisor.db'),
      line: `its directory ${frozenDir} is not writable (EROFS: read-only file system)`,
    },
    { name: 'read-only database file', db: roFile, line: 'the file is not writable (EROFS: read-only file system)' },
    { name: 'directory under a regular file', db: path.join(plainFile, 'advisor.db'), line: `${plainFile} is not a directory` },
  ];
  return cases.map((c) => ({ ...c, line: `${prefix(c.db)} ${c.line}` }));
}

function mount(args: string[]): void {
  execFileSync('mount', args);
  mounts.push(args[args.length - 1]!);
}

function makeDatabase(file: string, journalMode: 'WAL' | 'DELETE'): void {
  const db = new Database(file);
  db.pragma(`journal_mode = ${journalMode}`);
  db.exec('CREATE TABLE kept (x INTEGER); INSERT INTO kept VALUES (1)');
  db.close();
}

let cases: ReturnType<typeof readOnlyCases>;

test('read-only locations: checkDatabaseWritable names the file and the cause in one line', () => {
  cases = readOnlyCases();
  for (const { name, db, line } of cases) {
    assert.throws(
      () => checkDatabaseWritable(db),
      (err: Error) => {
        assert.ok(err instanceof DatabaseUnavailableError, name);
        assert.equal(err.message, line, name);
        assert.equal(err.exitCode, 2);
        return true;
      },
    );
  }
});

// Needs the daemon integration: serve checks before opening the store, and the CLI maps the error to exit 2.
test('read-only locations: serve exits 2 with that one line, not a stack trace', async () => {
  for (const { name, db, line } of cases) {
    const r = await runCli(['serve', '-c', configFor(db)], env, 30_000);
    assert.equal(r.stderr.trim(), line, name);
    assert.equal(r.code, 2, name);
  }
  const kept = new Database(path.join(tmp, 'ro-file', 'advisor.db'), { readonly: true });
  assert.deepEqual(kept.prepare('SELECT x FROM kept').all(), [{ x: 1 }], 'the read-only database is untouched');
  kept.close();
});
