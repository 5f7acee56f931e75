/**
 * Decides which analyses go to SQLite. The figures change every cycle, but history is read per
 * minute at best (the API's default step), so one row per node and minute is kept, not one per
 * cycle: at 10 s sampling that is a sixth of the rows, and what makes the 90-day retention of the
 * analysis history affordable. The latest full analysis (for `report` and a restart) is written at
 * the same pace, and once more at shutdown.
 */
import type { Store } from '../store/store.js';
import type { ClusterAnalysis } from '../analysis/cluster-analysis.js';
import { MINUTE_MS } from '../units/time.js';

export class AnalysisRecorder {
  private readonly lastMinute = new Map<string, number>();
  /** Minutes (and analyses) written by the cycle's transaction, which may still roll back. */
  private readonly staged = new Map<string, { minute: number; analysis: ClusterAnalysis }>();
  private readonly unwritten = new Map<string, ClusterAnalysis>();

  constructor(private readonly store: Store) {}

  /** Called inside the cycle's transaction; then committed() or rolledBack(), as it ends. */
  record(analyses: readonly ClusterAnalysis[]): void {
    for (const a of analyses) {
      const minute = Math.floor(a.computedAt / MINUTE_MS);
      if ((this.staged.get(a.cluster)?.minute ?? this.lastMinute.get(a.cluster)) === minute) {
        this.unwritten.set(a.cluster, a);
        continue;
      }
      this.store.recordAnalysis(a);
      this.staged.set(a.cluster, { minute, analysis: a });
    }
  }

  committed(): void {
    for (const [cluster, { minute }] of this.staged) {
      this.lastMinute.set(cluster, minute);
      this.unwritten.delete(cluster); // what was written is newer than anything waiting
    }
    this.staged.clear();
  }

  /** The minute's rows were not kept: the next cycle of the minute writes them, and a stop before it the latest. */
  rolledBack(): void {
    for (const [cluster, { analysis }] of this.staged) this.unwritten.set(cluster, analysis);
    this.staged.clear();
  }

  /** Writes the latest analysis of every cluster that has one unwritten. */
  flush(): void {
    this.store.transaction(() => {
      for (const a of this.unwritten.values()) this.store.recordLatestAnalysis(a);
    });
    this.unwritten.clear();
  }
}
