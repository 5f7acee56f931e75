/**
 * One daemon per database, and a clear refusal when the database cannot be written.
 *
 * The lock is a kernel lock, not a pid file: `<db>.lock` is a tiny SQLite database whose
 * owner row names the daemon, and the daemon keeps a read transaction open on it for as long
 * as it runs. SQLite holds that as a POSIX (fcntl) read lock, which the kernel drops when the
 * process exits in any way, kill -9 included, so a crash never leaves a lock that blocks the
 * next start, and there is no stale-pid guessing to get wrong after pid reuse. A second daemon
 * writes its own owner row; the commit needs an exclusive lock, which the first daemon's read
 * lock refuses, so the second one gives up and names the pid in the row it can still read.
 *
 * The lock file is never deleted, even on a clean stop: deleting a lock file while another
 * process has it open is the classic way to end up with two holders. Its presence means
 * nothing; only the kernel lock on it counts. Readers (`report`) never touch it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

/** The database is held by another daemon or cannot be written: one line, exit code 2. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  readonly exitCode = 2;
}

export interface DatabaseLock {
  /** The database file the lock is for, as given. */
  readonly database: string;
  readonly lockFile: string;
  /** Drops the lock; safe to call more than once. Exiting the process drops it too. */
  release(): void;
}

export interface LockOptions {
  /**
   * How long to wait for a lock that is only briefly taken, by another daemon starting at the
   * same instant. A held lock is reported after this wait.
   */
  waitMs?: number;
}

interface Owner {
  pid: number;
  host: string;
  token: string;
}

const DEFAULT_WAIT_MS = 500;
const SUFFIX = '.lock';

/**
 * Open locks, so that a lock whose holder dropped every reference is not closed by the garbage
 * collector (better-sqlite3 closes unreachable connections, which would release the lock).
 */
const held = new Set<Database.Database>();

/**
 * Checks that the daemon can write the database and the files SQLite keeps beside it (the WAL,
 * the shared-memory index, the lock), creating the directory like the store does. Throws a
 * DatabaseUnavailableError whose message is one line naming the file and the cause.
 */
export function checkDatabaseWritable(database: string): void {
  const file = path.resolve(database);
  const fail = (detail: string): never => {
    throw new DatabaseUnavailableError(`gcache-advisor: cannot use the database ${file}: ${detail}`);
  };
  const dir = path.dirname(file);
  try {
    makeDirectory(dir);
  } catch (err) {
    fail(`cannot create its directory ${dir} (${errnoText(err)})`);
  }
  if (!fs.statSync(dir).isDirectory()) fail(`${dir} is not a directory`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) fail('it is a directory, not a file');
  // access(2) does not see every reason a directory refuses new files, so create one for real:
  // SQLite must be able to create the -wal and -shm files here.
  const probe = path.join(dir, `.${path.basename(file)}.probe-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
    fs.unlinkSync(probe);
  } catch (err) {
    fail(`its directory ${dir} is not writable (${errnoText(err)})`);
  }
  // Existing files are checked with access(2) rather than opened: closing a descriptor on a
  // SQLite file would drop every lock this process holds on it.
  for (const existing of [file, `${file}-wal`, `${file}-shm`, lockFileFor(file)]) {
    try {
      fs.accessSync(existing, fs.constants.W_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      fail(`${existing === file ? 'the file' : existing} is not writable (${errnoText(err)})`);
    }
  }
}

/**
 * Takes the database for this process, or throws a DatabaseUnavailableError naming the pid that
 * holds it. Checks that the database is writable first, so that a read-only location gets its
 * own message instead of a lock failure.
 */
export function acquireDatabaseLock(database: string, options: LockOptions = {}): DatabaseLock {
  checkDatabaseWritable(database);
  const file = path.resolve(database);
  const lockFile = lockFileFor(file);
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  let conn: Database.Database;
  try {
    conn = new Database(lockFile, { timeout: waitMs });
  } catch (err) {
    throw new DatabaseUnavailableError(`gcache-advisor: cannot open the lock file ${lockFile} of ${file} (${(err as Error).message})`);
  }
  try {
    claimUntilDecided(conn, file, lockFile, waitMs);
  } catch (err) {
    conn.close();
    throw err;
  }
  held.add(conn);
  let released = false;
  return {
    database: file,
    lockFile,
    release() {
      if (released) return;
      released = true;
      held.delete(conn);
      // Closing the connection ends the read transaction and so drops the kernel lock.
      conn.close();
    },
  };
}

/** What one attempt at the lock found. */
type Attempt = { outcome: 'held' } | { outcome: 'in-use'; owner: Owner } | { outcome: 'undecided'; owner: Owner | null };

/**
 * Repeats claim() until it is decided. Only a holder makes an attempt decided against us, so an
 * attempt that merely crossed another starting daemon is tried again after a short random pause;
 * the message then names the daemon that really kept the lock.
 */
function claimUntilDecided(conn: Database.Database, file: string, lockFile: string, waitMs: number): void {
  const deadline = Date.now() + Math.max(2000, 4 * waitMs);
  for (;;) {
    const attempt = claim(conn, file, lockFile);
    if (attempt.outcome === 'held') return;
    if (attempt.outcome === 'in-use' || Date.now() >= deadline) throw inUse(file, attempt.owner);
    sleepSync(5 + Math.random() * 20);
  }
}

/**
 * Writes this process as the owner, then reads the owner back under a read lock that it keeps:
 * the read lock is what makes every later commit, and so every later claim, fail. Two daemons
 * starting together may both commit; only the one that reads back its own token keeps the read
 * lock, and the other tries again and finds its commit refused.
 */
function claim(conn: Database.Database, file: string, lockFile: string): Attempt {
  const me: Owner = { pid: process.pid, host: os.hostname(), token: crypto.randomUUID() };
  try {
    // Waits up to waitMs for another daemon that is in the middle of its own claim.
    conn.exec('BEGIN IMMEDIATE');
  } catch (err) {
    if (!isBusy(err)) throw lockFileError(lockFile, file, err);
    return { outcome: 'undecided', owner: ownerIfReadable(conn) };
  }
  try {
    conn.exec(`CREATE TABLE IF NOT EXISTS owner (
      id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL, token TEXT NOT NULL, since INTEGER NOT NULL)`);
    conn.prepare('INSERT OR REPLACE INTO owner (id, pid, host, token, since) VALUES (1, ?, ?, ?, ?)').run(me.pid, me.host, me.token, Date.now());
    // Waits up to waitMs for readers to let go; a holder never does.
    conn.exec('COMMIT');
  } catch (err) {
    if (conn.inTransaction) conn.exec('ROLLBACK');
    if (!isBusy(err)) throw lockFileError(lockFile, file, err);
    const owner = ownerIfReadable(conn);
    // The commit outwaited every passing reader: someone keeps the read lock, and the owner row
    // cannot change while it does, so the row names the holder.
    return owner ? { outcome: 'in-use', owner } : { outcome: 'undecided', owner: null };
  }
  // The read transaction stays open until release(): it is the lock.
  conn.exec('BEGIN');
  let owner: Owner | null;
  try {
    owner = readOwner(conn);
  } catch (err) {
    conn.exec('ROLLBACK');
    if (!isBusy(err)) throw lockFileError(lockFile, file, err);
    return { outcome: 'undecided', owner: null };
  }
  if (owner?.token === me.token) return { outcome: 'held' };
  conn.exec('ROLLBACK');
  return { outcome: 'undecided', owner };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readOwner(conn: Database.Database): Owner | null {
  try {
    return (conn.prepare('SELECT pid, host, token FROM owner WHERE id = 1').get() as Owner | undefined) ?? null;
  } catch (err) {
    // No owner table yet: the holder is still between its first BEGIN and COMMIT.
    if (/no such table/.test((err as Error).message)) return null;
    throw err;
  }
}

/** The owner for the refusal message; null when even a read is refused at this instant. */
function ownerIfReadable(conn: Database.Database): Owner | null {
  try {
    return readOwner(conn);
  } catch (err) {
    if (isBusy(err)) return null;
    throw err;
  }
}

function inUse(file: string, owner: Owner | null): DatabaseUnavailableError {
  const who = owner ? `pid ${owner.pid}${owner.host !== os.hostname() ? ` on host ${owner.host}` : ''}` : 'pid not yet recorded';
  return new DatabaseUnavailableError(`gcache-advisor: ${file} is in use by another gcache-advisor (${who}); one daemon per database`);
}

function lockFileError(lockFile: string, file: string, err: unknown): DatabaseUnavailableError {
  const message = (err as Error).message;
  const hint = (err as { code?: string }).code === 'SQLITE_NOTADB' ? '; it is not a gcache-advisor lock file: remove it if no gcache-advisor uses this database' : '';
  return new DatabaseUnavailableError(`gcache-advisor: cannot lock ${file} through ${lockFile} (${message})${hint}`);
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/**
 * The lock file of the database's real location, so that two configs reaching one database
 * through different paths (a symlink, a relative path) still share one lock.
 */
export function lockFileFor(database: string): string {
  const file = path.resolve(database);
  if (fs.existsSync(file)) return fs.realpathSync(file) + SUFFIX;
  const dir = path.dirname(file);
  return (fs.existsSync(dir) ? path.join(fs.realpathSync(dir), path.basename(file)) : file) + SUFFIX;
}

/**
 * mkdir -p that keeps the real cause: Node's recursive mkdirSync reports ENOENT where the kernel
 * said EROFS (a read-only file system), which would send the user looking for a missing path.
 */
function makeDirectory(dir: string): void {
  if (fs.existsSync(dir)) return;
  makeDirectory(path.dirname(dir));
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** "EROFS: read-only file system" from a Node errno error, without the trailing path. */
function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1];
  return e.code && text ? `${e.code}: ${text}` : e.message;
}
