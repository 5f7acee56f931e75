/**
 * Moves the write-ahead log into the database file, with the two syncs that takes run off the
 * event loop. SQLite checkpoints on commit once the WAL holds 1,000 pages, and its checkpoint syncs
 * the WAL, copies the frames, then syncs the database file; a fleet's cycle writes more than that
 * every time, so on the event loop each commit would stall HTTP requests for as long as the disk
 * takes to sync (52-101 ms measured at 1,000 nodes). Here the daemon's connection stops
 * checkpointing, and after each commit the checkpointer keeps SQLite's order with the syncs on
 * libuv's thread pool:
 *
 * 1. sync the WAL file; when any write reached the database meanwhile (a change on the daemon's
 *    connection, another connection's commit), sync it again, so that every frame copied next is
 *    on disk;
 * 2. at once, on the event loop: a second connection opens a read transaction, which pins the WAL
 *    where it ends (SQLite starts the WAL over only once no reader uses it), and the daemon's
 *    connection copies the frames into the database file with `synchronous = OFF`, syncing
 *    nothing (13-20 ms a cycle at 1,002 nodes: `checkpoint` among `npm run bench:fleet`'s
 *    longest blocks);
 * 3. sync the database file, then end the read transaction: only now may a commit write over the
 *    WAL from its start.
 *
 * That is the order SQLite keeps with synchronous=NORMAL (the WAL synced before any frame is
 * copied, the file synced before the WAL starts over), so a power loss loses no more than it
 * would there. It replaced a worker thread that checkpointed on a connection of its own, a
 * Node.js environment of its own: at 1,002 nodes the daemon with it read 202 MB resident, without
 * it 192-193 MB (`npm run bench:fleet`, within the same hour).
 *
 * A failed sync or copy is a failed write (the store owes a checkpoint, see database.ts): the
 * store is not writable until a checkpoint on the daemon's connection, with SQLite's own syncs,
 * has moved the whole WAL, and the checkpointer is not used meanwhile. One case is worse: when
 * syncing the database file fails after the copy, SQLite already counts those frames as moved,
 * and a page the kernel could not write may later be read back stale. The WAL stays pinned (it
 * still holds every frame) and `onSyncLost` is called: the daemon then stops without closing the
 * store, whose last connection would checkpoint and delete the WAL, so that the next start
 * replays it (PostgreSQL likewise stops on a failed fsync rather than retry it).
 */
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log/logger.js';
import { throttled } from '../log/throttle.js';
import { errorCode, type CheckpointOwner } from './database.js';

export interface CheckpointResult {
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
  /** The copy could not take a lock (another checkpoint ran): it moved nothing. */
  busy: boolean;
  /** From the request to the end of the second sync. */
  ms: number;
  /** How long the copy held the event loop. */
  loopMs: number;
}

export interface CheckpointerOptions {
  /** Syncs a file to disk; fsync through libuv's thread pool unless a test says otherwise. */
  syncFile?: (file: string) => Promise<void>;
  /** The same, at once: at exit, when a copy's sync has not ended. */
  syncFileNow?: (file: string) => void;
  /** Syncing the database file failed after a copy (see above). */
  onSyncLost?: (err: unknown) => void;
}

/**
 * Syncs of the WAL tried in a row while writes keep landing in it before the copy; past them this
 * checkpoint is given up, and the next commit asks again.
 */
const WAL_SYNC_ATTEMPTS = 3;

/** What SQLite reports for a failed fsync, so that readiness and the error counter name it the same. */
const SYNC_FAILED = 'SQLITE_IOERR_FSYNC';

async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function fsyncFileNow(file: string): void {
  const fd = fsSync.openSync(file, 'r');
  try {
    fsSync.fsyncSync(fd);
  } finally {
    fsSync.closeSync(fd);
  }
}

export class Checkpointer {
  readonly #owner: CheckpointOwner;
  readonly #log: Logger;
  readonly #files: { db: string; wal: string };
  readonly #sync: (file: string) => Promise<void>;
  readonly #onSyncLost: (err: unknown) => void;
  /** The connection whose read transaction pins the WAL between the copy and the database file's sync. */
  readonly #pin: Database.Database;
  readonly #pinStatements: { begin: Database.Statement; read: Database.Statement; end: Database.Statement };
  /** Requests waiting for the next checkpoint: each is answered by the first that starts after it. */
  #waiting: Array<(result: CheckpointResult | null) => void> = [];
  #running: Promise<void> | null = null;
  #closed = false;
  /** Syncing the database file failed after a copy: the WAL stays pinned and nothing more is checkpointed here. */
  #lost = false;
  /** Frames were copied into the database file, which is not yet synced. */
  #copiedUnsynced = false;
  readonly #syncNow: (file: string) => void;
  /** A full disk fails every checkpoint: one line a minute says so. */
  readonly #logFailure: ReturnType<typeof throttled>;

  constructor(file: string, owner: CheckpointOwner, log: Logger, options: CheckpointerOptions = {}) {
    this.#owner = owner;
    this.#log = log;
    const db = path.resolve(file);
    this.#files = { db, wal: `${db}-wal` };
    this.#sync = options.syncFile ?? fsyncFile;
    this.#onSyncLost = options.onSyncLost ?? (() => undefined);
    this.#syncNow = options.syncFileNow ?? fsyncFileNow;
    process.on('exit', this.#syncBeforeExit);
    this.#logFailure = throttled(log);
    this.#pin = new Database(db, { fileMustExist: true });
    // The pin never waits for a lock: when it cannot read, that checkpoint is skipped.
    this.#pin.pragma('busy_timeout = 0');
    this.#pinStatements = {
      begin: this.#pin.prepare('BEGIN'),
      read: this.#pin.prepare('SELECT 1 FROM sqlite_master LIMIT 1'),
      end: this.#pin.prepare('COMMIT'),
    };
    owner.handOver();
  }

  /**
   * Asks for a checkpoint (after a commit). Requests made while one runs are answered by one more
   * afterwards. Resolves with its result, or null when there was none: closed, the store owes a
   * checkpoint of its own connection first, writes kept landing while the WAL synced, or a sync
   * failed.
   */
  request(): Promise<CheckpointResult | null> {
    if (this.#closed || this.#lost || this.#owner.owed()) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#running ??= this.#drain();
    });
  }

  /** Waits for a checkpoint under way, then gives checkpoints back to SQLite. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#running;
    if (this.#lost) return; // the pin stays: closing it could be what checkpoints and deletes the WAL
    process.off('exit', this.#syncBeforeExit);
    this.#pin.close();
    this.#owner.takeBack();
  }

  async #drain(): Promise<void> {
    while (this.#waiting.length > 0) {
      const answering = this.#waiting;
      this.#waiting = [];
      let result: CheckpointResult | null = null;
      if (!this.#closed && !this.#lost && !this.#owner.owed()) {
        try {
          result = await this.#checkpoint();
        } catch (err) {
          // Reading the write mark can fail too (an I/O error): a failed checkpoint, not a
          // checkpointer that never answers again.
          if (!this.#lost) this.#unpin();
          result = this.#failed(errorCode(err), err);
        }
      }
      for (const resolve of answering) resolve(result);
    }
    this.#running = null;
  }

  /**
   * On exit between the copy and the database file's sync (an uncaught error ends the process),
   * better-sqlite3 closes the connections, and the last one to close deletes the WAL, which SQLite
   * counts as moved. The file is synced first, here, before they close.
   */
  readonly #syncBeforeExit = (): void => {
    if (!this.#copiedUnsynced) return;
    try {
      this.#syncNow(this.#files.db);
    } catch {
      // Nothing more can be done at exit; the log has said what failed before.
    }
  };

  async #checkpoint(): Promise<CheckpointResult | null> {
    const started = performance.now();
    const owner = this.#owner;
    let synced = false;
    for (let attempt = 0; attempt < WAL_SYNC_ATTEMPTS && !synced; attempt++) {
      // A transaction open now may commit during the sync (its frames join the WAL only then),
      // and no checkpoint can run on a connection inside one.
      const openAtMark = owner.inTransaction();
      const mark = owner.writeMark();
      try {
        await this.#sync(this.#files.wal);
      } catch (err) {
        return this.#failed(SYNC_FAILED, err);
      }
      if (this.#closed || owner.owed()) return null;
      synced = !openAtMark && !owner.inTransaction() && owner.writeMark() === mark;
    }
    if (!synced) return null;

    const copyStarted = performance.now();
    if (!this.#pinWal()) return null;
    let row: { busy: number; log: number; checkpointed: number };
    try {
      row = owner.copyWithoutSync();
    } catch (err) {
      this.#unpin();
      return this.#failed(errorCode(err), err);
    }
    const loopMs = performance.now() - copyStarted;
    if (row.checkpointed > 0) {
      this.#copiedUnsynced = true;
      try {
        await this.#sync(this.#files.db);
        this.#copiedUnsynced = false;
      } catch (err) {
        this.#lost = true;
        owner.failedInBackground(SYNC_FAILED);
        this.#log.error('syncing the database file failed after a checkpoint; the WAL is kept for the next start to replay', { err });
        this.#onSyncLost(err);
        return null;
      }
    }
    this.#unpin();
    return { log: row.log, checkpointed: row.checkpointed, busy: row.busy !== 0, ms: performance.now() - started, loopMs };
  }

  /** Opens the pinning read transaction; false when it could not (every reader slot taken). */
  #pinWal(): boolean {
    try {
      this.#pinStatements.begin.run();
      this.#pinStatements.read.get();
      return true;
    } catch (err) {
      if (this.#pin.inTransaction) this.#pinStatements.end.run();
      this.#log.debug('checkpoint skipped: the WAL could not be pinned', { err });
      return false;
    }
  }

  #unpin(): void {
    if (this.#pin.inTransaction) this.#pinStatements.end.run();
  }

  #failed(code: string, err: unknown): null {
    this.#owner.failedInBackground(code);
    this.#logFailure('checkpoint', 'checkpoint failed', { reason: code, err });
    return null;
  }
}
