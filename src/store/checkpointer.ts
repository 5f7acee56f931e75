/**
 * Moves the write-ahead log into the database file from a worker thread. SQLite checkpoints on
 * commit once the WAL holds 1,000 pages, and a checkpoint syncs the file to disk; a fleet's cycle
 * writes more than that every time, so on the event loop each commit would stall HTTP requests
 * for as long as the disk takes to sync (50-100 ms measured at 1,000 nodes). Here the daemon's
 * own connection stops checkpointing, and after each commit a second connection, in a worker,
 * runs a passive checkpoint, which waits for no lock and leaves the writer free.
 *
 * A failed checkpoint is a failed write (the store owes a checkpoint, see database.ts): the store
 * is not writable until one succeeds on the daemon's connection, and the worker is not asked
 * meanwhile. When the worker itself is gone, checkpoints go back to SQLite's default for good.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { throttled } from '../log/throttle.js';
import type { CheckpointOwner } from './database.js';
import type { CheckpointResult, WorkerReply } from './checkpoint-worker.js';

/** Heap limits of the checkpoint worker; past them it stops and checkpoints move back to the daemon's connection. */
const WORKER_HEAP_LIMITS = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 };

export class BackgroundCheckpointer {
  readonly #worker: Worker;
  #inFlight: Array<(result: CheckpointResult | null) => void> | null = null;
  #again = false;
  #gone = false;
  #closed = false;
  /** A full disk fails every checkpoint: one line a minute says so. */
  readonly #logFailure: ReturnType<typeof throttled>;

  constructor(
    file: string,
    private readonly owner: CheckpointOwner,
    private readonly log: Logger,
  ) {
    // The worker's source sits next to this module: .ts under tsx (tests), .js once built.
    const self = fileURLToPath(import.meta.url);
    this.#logFailure = throttled(log);
    this.#worker = new Worker(path.join(path.dirname(self), `checkpoint-worker${path.extname(self)}`), {
      workerData: { file: path.resolve(file) },
      // It runs one pragma and allocates next to nothing: a small heap keeps its isolate from
      // reserving what the daemon's own heap may (the young generation alone is 2 × 4 MB there).
      resourceLimits: WORKER_HEAP_LIMITS,
    });
    // Never what keeps the process alive: a daemon that fails to start still exits.
    this.#worker.unref();
    this.#worker.on('message', (reply: WorkerReply) => this.#settle(reply));
    this.#worker.on('error', (err) => this.#workerGone(err.message));
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.#workerGone(`the checkpoint worker exited (code ${code})`);
    });
    owner.handOver();
  }

  /**
   * Asks for a checkpoint (after a commit). Requests made while one runs are folded into one more
   * afterwards. Resolves with its result, or null when there was none: the worker is gone, closed,
   * or the store owes a checkpoint of its own connection first.
   */
  request(): Promise<CheckpointResult | null> {
    if (this.#gone || this.#closed || this.owner.owed()) return Promise.resolve(null);
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
    if (!this.#gone) this.owner.takeBack();
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
      this.owner.failedInBackground(reply.code);
      this.#logFailure('checkpoint', 'background checkpoint failed', { err: `${reply.code}: ${reply.error}` });
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

  #workerGone(reason: string): void {
    if (this.#gone) return;
    this.#gone = true;
    this.owner.takeBack();
    this.log.warn('checkpoints moved back to the daemon connection', { reason });
    this.#resolveAll(null);
  }
}
