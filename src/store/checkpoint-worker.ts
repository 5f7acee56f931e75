/**
 * The worker thread of the background checkpointer (checkpointer.ts): its own connection to the
 * database, on which it runs a passive checkpoint whenever asked, and answers with what it moved.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointResult {
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
  /** The checkpoint could not take a lock (another checkpoint ran): it moved nothing. */
  busy: boolean;
  ms: number;
}

export type WorkerReply = { ok: true; result: CheckpointResult } | { ok: false; code: string; error: string };

const { file } = workerData as { file: string };
const db = new Database(file);
// A checkpoint waits for nobody: what it cannot move now, the next one moves.
db.pragma('busy_timeout = 0');
db.pragma('wal_autocheckpoint = 0');

parentPort!.on('message', (message: 'checkpoint' | 'close') => {
  if (message === 'close') {
    db.close();
    parentPort!.close();
    return;
  }
  const started = performance.now();
  let reply: WorkerReply;
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    reply = { ok: true, result: { log: row!.log, checkpointed: row!.checkpointed, busy: row!.busy !== 0, ms: performance.now() - started } };
  } catch (err) {
    reply = { ok: false, code: (err as { code?: string }).code ?? 'SQLITE_ERROR', error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply);
});
