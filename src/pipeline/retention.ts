/**
 * Retention in small slices between cycles: once an hour a round starts, and each cycle then
 * deletes for at most a few milliseconds until the round is done, so that however large the
 * backlog (a first start on an old database, a retention shortened in the config) no cycle and no
 * HTTP request waits behind one big delete.
 */
import type { Config } from '../config/load.js';
import type { Logger } from '../log/logger.js';
import { performance } from 'node:perf_hooks';
import { retentionCutoffs, type RetentionTask, type Store } from '../store/store.js';
import { HOUR_MS } from '../units/time.js';

const ROUND_EVERY_MS = HOUR_MS;
/** Wall time one slice may take; the event loop is blocked for no longer than this. */
export const RETENTION_SLICE_MS = 20;

export class RetentionRunner {
  private lastRoundAt = Number.NEGATIVE_INFINITY;
  private round: { tasks: RetentionTask[]; index: number; deleted: number } | null = null;

  constructor(
    private readonly store: Store,
    private readonly retention: Config['storage']['retention'],
    private readonly log: Logger,
    private readonly sliceMs = RETENTION_SLICE_MS,
  ) {}

  /** One slice of the current round, starting a new round when one is due. Throws store errors. */
  step(now: number): void {
    if (!this.round && now - this.lastRoundAt >= ROUND_EVERY_MS) {
      this.lastRoundAt = now;
      this.round = { tasks: this.store.retentionTasks(retentionCutoffs(now, this.retention.rawSeconds, this.retention.rollupSeconds)), index: 0, deleted: 0 };
    }
    const round = this.round;
    if (!round) return;
    const started = performance.now();
    while (round.index < round.tasks.length) {
      const n = round.tasks[round.index]!.step();
      round.deleted += n;
      if (n === 0) round.index++;
      if (performance.now() - started >= this.sliceMs) return;
    }
    if (round.deleted > 0) this.log.info('retention applied', { deleted: round.deleted });
    this.round = null;
  }

  /** True while a round is under way. */
  get busy(): boolean {
    return this.round !== null;
  }
}
