/**
 * Moves the write-ahead log into the database file from a worker thread. SQLite checkpoints on
 * commit once the WAL holds 1,000 pages, and a checkpoint syncs the file to disk; a fleet's cycle
 * writes more than that every time, so on the event loop each commit would stall HTTP requests
 * for as long as the disk takes to sync (50-100 ms measured at 1,000 nodes). Here the daemon's
 * own connection stops checkpointing, and after each commit a second connection, in a worker,
 * runs a passive checkpoint, which waits for no lock and leaves the writer free.
 *
 * When the worker fails, checkpoints go back to the daemon's connection (SQLite's default), so
 * the WAL never grows without bound.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { throttled } from '../log/throttle.js';
import type { CheckpointResult, WorkerReply } from './checkpoint-worker.js';

/** SQLite's own threshold, restored when the worker is gone. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

export interface CheckpointTarget {
  /** Sets the WAL size (pages) at which a commit of the daemon's connection checkpoints; 0: never. */
  setAutoCheckpoint(pages: number): void;
}

export class BackgroundCheckpointer {
  readonly #worker: Worker;
  #inFlight: Array<(result: CheckpointResult | null) => void> | null = null;
  #again = false;
  #failed = false;
  #closed = false;
  /** A full disk fails every checkpoint: one line a minute says so. */
  readonly #logFailure: ReturnType<typeof throttled>;

  constructor(
    file: string,
    private readonly target: CheckpointTarget,
    private readonly log: Logger,
  ) {
    // The worker's source sits next to this module: .ts under tsx (tests), .js once built.
    const self = fileURLToPath(import.meta.url);
    this.#logFailure = throttled(log);
    this.#worker = new Worker(path.join(path.dirname(self), `checkpoint-worker${path.extname(self)}`), { workerData: { file: path.resolve(file) } });
    this.#worker.on('message', (reply: WorkerReply) => this.#settle(reply));
    this.#worker.on('error', (err) => this.#fail(err.message));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(`the checkpoint worker exited (code ${code})`);
    });
    target.setAutoCheckpoint(0);
  }

  /**
   * Asks for a checkpoint (after a commit). Requests made while one runs are folded into one more
   * afterwards. Resolves with its result, or null when checkpoints are back on the daemon's connection.
   */
  request(): Promise<CheckpointResult | null> {
    if (this.#failed || this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      if (this.#inFlight) {
        this.#again = true;
        this.#inFlight.push(resolve);
        return;
      }
      this.#inFlight = [resolve];
      this.#worker.postMessage('checkpoint');
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#resolveAll(null);
    if (!this.#failed) this.target.setAutoCheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    this.#worker.postMessage('close');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.#worker.terminate().then(() => resolve()), 2000);
      this.#worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #settle(reply: WorkerReply): void {
    if (!reply.ok) {
      // One failed checkpoint (a full disk, say) is retried with the next commit.
      this.#logFailure('checkpoint', 'background checkpoint failed', { err: reply.error });
      this.#resolveAll(null);
      return;
    }
    if (this.#again && !this.#closed) {
      this.#again = false;
      this.#worker.postMessage('checkpoint');
      return;
    }
    this.#resolveAll(reply.result);
  }

  #resolveAll(result: CheckpointResult | null): void {
    const waiting = this.#inFlight ?? [];
    this.#inFlight = null;
    this.#again = false;
    for (const resolve of waiting) resolve(result);
  }

  #fail(reason: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.target.setAutoCheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    this.log.warn('checkpoints moved back to the daemon connection', { reason });
    this.#resolveAll(null);
  }
}
