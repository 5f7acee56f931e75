/**
 * The one SQLite connection of the store: opening (pragmas, migrations), transactions, and how
 * writes went. The repositories prepare their statements here and run every write through
 * `write` or `transaction`. Nothing else keeps the better-sqlite3 handle (`Store.db` only lends it
 * to the benchmarks, the fleet seeder and tests).
 *
 * WAL mode with synchronous=NORMAL: a committed transaction is in the WAL file before commit
 * returns, so killing the daemon (even with -9) loses nothing committed; only a power loss
 * could drop the last transactions, which the next samples replace anyway.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrations.js';

/**
 * How long a write waits for a lock held by another connection. Short on purpose: the daemon is
 * the only writer, so a lock held elsewhere is an outsider (a backup, a manual session), and every
 * millisecond waited here is the event loop blocked. A write that gives up is counted and retried
 * with the next cycle.
 */
const BUSY_TIMEOUT_MS = 100;

/**
 * After a write failed on a full disk, writing resumes only once this much is free again. Less
 * would not last: the owed checkpoint truncates the WAL, and the few blocks that frees would take
 * a write or two that then fail again, the store flapping between writable and not.
 */
const RESUME_FREE_BYTES = 4 * 1024 * 1024;

/** SQLite's own threshold (WAL pages) at which a commit checkpoints: what the store runs with unless a background checkpointer takes over. */
const AUTOCHECKPOINT_PAGES = 1000;

/**
 * Where the store's checkpoints run, as checkpointer.ts sees it: it takes them over, copies the
 * WAL through this connection with its own syncs around, reports a failed one, and gives them
 * back when it closes.
 */
export interface CheckpointOwner {
  handOver(): void;
  failedInBackground(code: string): void;
  takeBack(): void;
  /** A checkpoint or a write failed for want of disk and none has succeeded since: the checkpointer is not used meanwhile. */
  owed(): boolean;
  /** Changes whenever a write may have added frames to the WAL: a commit or a change on this connection, another connection's commit. */
  writeMark(): string;
  /** A transaction is open on this connection, inside which no checkpoint can run. */
  inTransaction(): boolean;
  /** Copies the WAL's frames into the database file, syncing neither file: the checkpointer syncs both, off the event loop. */
  copyWithoutSync(): CheckpointRow;
}

/** What `PRAGMA wal_checkpoint` answers: frames in the WAL, frames now in the database file, and whether a lock stopped it. */
export interface CheckpointRow {
  busy: number;
  log: number;
  checkpointed: number;
}

/** How the most recent write went, for readiness and the store-error counter. */
export interface WriteHealth {
  ok: boolean;
  /** The SQLite error code of the last failed write (SQLITE_FULL, SQLITE_BUSY...), when not ok. */
  reason: string | null;
  since: number | null;
}

export type Statement = Database.Statement;

/** The SQLite error code of a failed statement (SQLITE_FULL, SQLITE_BUSY...), as readiness and the error counter name it. */
export function errorCode(err: unknown): string {
  return (err as { code?: string }).code ?? 'SQLITE_ERROR';
}

export class StoreDatabase {
  readonly #db: Database.Database;
  /** Transaction control, prepared once: `exec` would compile the SQL text on every call. */
  readonly #control: { begin: Statement; beginImmediate: Statement; commit: Statement; rollback: Statement };
  /**
   * What the write mark is made of: this connection's changes since it opened (a statement run
   * outside a transaction commits itself), and the count of other connections' commits it has
   * seen. Neither moves when a transaction commits, though that is when its frames join the WAL:
   * `#commits` counts those.
   */
  readonly #writeMarks: { changes: Statement; dataVersion: Statement };
  #commits = 0;
  #health: WriteHealth = { ok: true, reason: null, since: null };
  /** Failed writes by SQLite error code, since start. */
  readonly writeErrors = new Map<string, number>();
  /** Caches of what was written (the sample repository's epoch rows) to forget on a rollback. */
  readonly #onRollback: Array<() => void> = [];
  /**
   * A write or a background checkpoint failed for want of disk (SQLITE_FULL, an I/O error). Later,
   * smaller writes could still land in the WAL's space (reused after every checkpoint, or left by
   * the failed transaction) while nothing more reaches the database file, so one landing proves
   * nothing: the store stays not writable (readiness, store errors) until a checkpoint on this
   * connection has moved the whole WAL into the database file and truncated it, which every write
   * tries first meanwhile. After that a write needs new space, so its outcome is the disk's.
   */
  #checkpointOwed = false;
  /** The owed checkpoint waits for RESUME_FREE_BYTES free first (the failure was SQLITE_FULL). */
  #waitingForSpace = false;
  /** The database file, as given; null in memory. */
  readonly file: string | null;
  /** The database's directory, whose filesystem's free space that is; null in memory. */
  readonly #dir: string | null;

  constructor(file: string, options: { cacheSizeBytes?: number } = {}) {
    this.file = file === ':memory:' ? null : file;
    this.#dir = this.file === null ? null : path.dirname(path.resolve(this.file));
    if (this.#dir) fs.mkdirSync(this.#dir, { recursive: true });
    this.#db = new Database(file);
    // A negative cache_size is in KiB rather than pages.
    if (options.cacheSizeBytes !== undefined) this.#db.pragma(`cache_size = ${-Math.max(1, Math.round(options.cacheSizeBytes / 1024))}`);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.#db.pragma('foreign_keys = ON');
    migrate(this.#db);
    this.#control = {
      begin: this.#db.prepare('BEGIN'),
      beginImmediate: this.#db.prepare('BEGIN IMMEDIATE'),
      commit: this.#db.prepare('COMMIT'),
      rollback: this.#db.prepare('ROLLBACK'),
    };
    this.#writeMarks = { changes: this.#db.prepare('SELECT total_changes()').pluck(), dataVersion: this.#db.prepare('PRAGMA data_version').pluck() };
  }

  /** Repositories prepare each of their statements once, when they are built. */
  prepare(sql: string): Statement {
    return this.#db.prepare(sql);
  }

  /**
   * The raw connection, only for `Store.db` (benchmarks, the fleet seeder and tests that need
   * SQL the store does not offer). Writes made through it bypass the write-health tracking.
   */
  get connection(): Database.Database {
    return this.#db;
  }

  /** Registers what to forget when a transaction of the store rolls back. */
  onRollback(forget: () => void): void {
    this.#onRollback.push(forget);
  }

  /**
   * Runs `fn` in one transaction (nested calls join the outer one). Every write of the project
   * goes through here or `write`, so that readiness and the error counter see each outcome.
   */
  transaction<T>(fn: () => T): T {
    // Inside a transaction already (the cycle's): join it. A savepoint per nested call would cost
    // more than the insert it wraps, and an error rolls the whole cycle back anyway.
    if (this.#db.inTransaction) return fn();
    // A committed transaction proves the store writable.
    return this.#track(() => {
      this.#control.begin.run();
      try {
        const result = fn();
        this.#commit();
        return result;
      } catch (err) {
        this.#rollback();
        throw err;
      }
    });
  }

  /**
   * A write transaction that spans several turns of the event loop (the cycle pipeline writes a
   * cycle in slices). Writes made meanwhile on this connection join it.
   */
  beginCycle(): void {
    this.#track(() => this.#control.beginImmediate.run());
  }

  commitCycle(): void {
    this.#track(() => this.#commit());
  }

  rollbackCycle(): void {
    this.#rollback();
  }

  /** How the most recent write went; never takes a lock, so readiness checks cannot block. */
  writeHealth(): WriteHealth {
    return this.#health;
  }

  /** Runs one write statement: joins the open transaction, else records how it went. */
  write<T>(fn: () => T): T {
    if (this.#db.inTransaction) return fn();
    return this.#track(fn, wroteRows);
  }

  close(): void {
    this.#db.close();
  }

  /** Where checkpoints run, for the checkpointer. */
  readonly checkpoints: CheckpointOwner = {
    handOver: () => this.#setAutoCheckpoint(0),
    failedInBackground: (code) => {
      this.#checkpointOwed = true;
      this.#failed(code);
    },
    takeBack: () => this.#setAutoCheckpoint(AUTOCHECKPOINT_PAGES),
    owed: () => this.#checkpointOwed,
    writeMark: () => `${this.#commits}:${this.#writeMarks.changes.get()}:${this.#writeMarks.dataVersion.get()}`,
    inTransaction: () => this.#db.inTransaction,
    copyWithoutSync: () => {
      this.#db.pragma('synchronous = OFF');
      try {
        return (this.#db.pragma('wal_checkpoint(PASSIVE)') as CheckpointRow[])[0]!;
      } finally {
        this.#db.pragma('synchronous = NORMAL');
      }
    },
  };

  /** The checkpoint owed since a write failed for want of disk; throws while it still fails, stays owed while a reader holds part of the WAL. */
  #payOwedCheckpoint(): void {
    if (this.#waitingForSpace) {
      const free = this.#dir ? fs.statfsSync(this.#dir) : null;
      if (free && free.bavail * free.bsize < RESUME_FREE_BYTES) {
        throw Object.assign(new Error(`database or disk is full: writing resumes once ${RESUME_FREE_BYTES / 1024 / 1024} MiB are free`), { code: 'SQLITE_FULL' });
      }
      this.#waitingForSpace = false;
    }
    const [row] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    if (row?.busy === 0) this.#checkpointOwed = false;
  }

  #setAutoCheckpoint(pages: number): void {
    this.#db.pragma(`wal_autocheckpoint = ${pages}`);
  }

  #commit(): void {
    this.#control.commit.run();
    this.#commits++;
  }

  #rollback(): void {
    if (this.#db.inTransaction) this.#control.rollback.run();
    for (const forget of this.#onRollback) forget(); // what it had written is gone with it
  }

  /** Runs a write and records how it went, for readiness and the error counter. */
  #track<T>(fn: () => T, proves: (result: T) => boolean = () => true): T {
    try {
      // Not inside a transaction: a checkpoint cannot run there (the cycle's commit goes on and
      // the next write pays it).
      if (this.#checkpointOwed && !this.#db.inTransaction) this.#payOwedCheckpoint();
      const result = fn();
      // Only a write that wrote something shows the store writable again: on a full disk a
      // statement that changes no row (an outbox sweep with nothing to expire) still succeeds.
      // Nor does one that landed in the WAL while a checkpoint is owed.
      if (!this.#health.ok && !this.#checkpointOwed && proves(result)) this.#health = { ok: true, reason: null, since: null };
      return result;
    } catch (err) {
      this.#failed(errorCode(err));
      throw err;
    }
  }

  /** Counts a failed write and marks the store not writable, for that reason. */
  #failed(code: string): void {
    if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR')) this.#checkpointOwed = true;
    if (code === 'SQLITE_FULL') this.#waitingForSpace = true;
    this.writeErrors.set(code, (this.writeErrors.get(code) ?? 0) + 1);
    if (this.#health.ok || this.#health.reason !== code) this.#health = { ok: false, reason: code, since: Date.now() };
  }
}

/**
 * A repository: the statements of one concern, each prepared once when the store opens (a
 * statement prepared per call would be compiled again every cycle), run over the store's
 * connection through its `write` and `transaction`.
 */
export abstract class Repository<Statements> {
  protected readonly db: StoreDatabase;
  protected readonly stmts: Statements;

  protected constructor(db: StoreDatabase, prepare: (db: StoreDatabase) => Statements) {
    this.db = db;
    this.stmts = prepare(db);
  }
}

/** Whether a statement's result shows rows written: a RunResult or a count of changes above zero. */
function wroteRows(result: unknown): boolean {
  if (typeof result === 'number') return result > 0;
  if (result && typeof result === 'object' && 'changes' in result) return (result as { changes: number }).changes > 0;
  return false;
}
