/**
 * Retention: the deletion of history older than the configured horizons, as small batches that
 * the daemon spreads over cycles (src/pipeline/retention.ts runs them).
 */
import { Repository, type Statement, type StoreDatabase } from './database.js';
import { DAY_MS, HOUR_MS } from '../units/time.js';

/** Rows deleted per statement by retention: small enough that one batch takes a few ms. */
const RETENTION_BATCH = 500;
/**
 * How much of a node's oldest raw history one retention batch deletes: an hour is 360 samples at
 * 10 s; the per-minute tables take a day (24 spans) per batch, 1,440 rows.
 */
const RETENTION_SPAN_MS = HOUR_MS;

export interface RetentionTask {
  name: string;
  /** Deletes one batch; returns how many rows went, 0 when nothing is left. */
  step(): number;
}

export interface RetentionCutoffs {
  /** Raw samples, failures and per-cycle analyses before this time go. */
  raw: number;
  /** Rollups, events, cluster analyses and resolved alerts before this time go. */
  rollups: number;
  /** Delivered or expired notifications settled before this time go. */
  notifications: number;
}

/** How long a delivered or expired notification stays in the outbox for inspection. */
export const NOTIFICATION_RETENTION_MS = 7 * DAY_MS;

export function retentionCutoffs(now: number, rawSeconds: number, rollupSeconds: number): RetentionCutoffs {
  return { raw: now - rawSeconds * 1000, rollups: now - rollupSeconds * 1000, notifications: now - NOTIFICATION_RETENTION_MS };
}

function prepareStatements(db: StoreDatabase) {
  return {
    knownNodes: db.prepare(`SELECT DISTINCT cluster, node FROM node_epochs UNION SELECT DISTINCT cluster, node FROM node_settings`),
    knownClusters: db.prepare(`SELECT DISTINCT cluster FROM node_epochs UNION SELECT cluster FROM latest_analysis`),
    failures: db.prepare('DELETE FROM sample_failures WHERE id IN (SELECT id FROM sample_failures WHERE taken_at < ? LIMIT ?)'),
    events: db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? LIMIT ?)'),
    // Delivered and expired notifications are kept a while for inspection, then go.
    outbox: db.prepare(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
      WHERE COALESCE(delivered_at, expired_at) < ? LIMIT ?)`),
    // Resolved alerts are history; kept as long as the rollups, with no notification left.
    alerts: db.prepare(`DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE state = 'resolved' AND resolved_at < ?
      AND id NOT IN (SELECT alert_id FROM outbox) LIMIT ?)`),
    // A node's rows older than the cutoff, at most its oldest `span` of them per call.
    samples: db.prepare(`DELETE FROM samples WHERE cluster = @cluster AND node = @node AND taken_at < MIN(@cutoff,
      (SELECT MIN(taken_at) FROM samples WHERE cluster = @cluster AND node = @node) + @span)`),
    rollups: db.prepare(`DELETE FROM rollups_1m WHERE cluster = @cluster AND node = @node AND minute < MIN(@cutoff,
      (SELECT MIN(minute) FROM rollups_1m WHERE cluster = @cluster AND node = @node) + @span * 24)`),
    nodeAnalysis: db.prepare(`DELETE FROM node_analysis WHERE cluster = @cluster AND node = @node AND computed_at < MIN(@cutoff,
      (SELECT MIN(computed_at) FROM node_analysis WHERE cluster = @cluster AND node = @node) + @span * 24)`),
    clusterAnalysis: db.prepare(`DELETE FROM cluster_analysis WHERE cluster = @cluster AND computed_at < MIN(@cutoff,
      (SELECT MIN(computed_at) FROM cluster_analysis WHERE cluster = @cluster) + @span * 24)`),
  };
}

export class RetentionRepository extends Repository<ReturnType<typeof prepareStatements>> {
  constructor(db: StoreDatabase) {
    super(db, prepareStatements);
  }

  /**
   * The work retention has to do, as tasks that each delete one small batch per call and return
   * how many rows went (0 when done): the runner spreads them over cycles within a time budget,
   * so no call holds the event loop or the write lock for long, whatever the backlog. The
   * per-node tables are keyed by node and time, so their batches are a node's oldest hour.
   */
  retentionTasks(c: RetentionCutoffs): RetentionTask[] {
    const s = this.stmts;
    const task = (name: string, stmt: Statement, params: unknown[]): RetentionTask => ({ name, step: () => this.db.write(() => stmt.run(...params).changes) });
    const tasks: RetentionTask[] = [
      task('sample_failures', s.failures, [c.raw, RETENTION_BATCH]),
      task('events', s.events, [c.rollups, RETENTION_BATCH]),
      task('outbox', s.outbox, [c.notifications, RETENTION_BATCH]),
      task('alerts', s.alerts, [c.rollups, RETENTION_BATCH]),
    ];
    for (const { cluster, node } of s.knownNodes.all() as Array<{ cluster: string; node: string }>) {
      for (const [name, stmt, cutoff] of [
        ['samples', s.samples, c.raw],
        ['rollups_1m', s.rollups, c.rollups],
        ['node_analysis', s.nodeAnalysis, c.rollups],
      ] as const) {
        tasks.push(task(name, stmt, [{ cluster, node, cutoff, span: RETENTION_SPAN_MS }]));
      }
    }
    for (const { cluster } of s.knownClusters.all() as Array<{ cluster: string }>) {
      tasks.push(task('cluster_analysis', s.clusterAnalysis, [{ cluster, cutoff: c.rollups, span: RETENTION_SPAN_MS }]));
    }
    return tasks;
  }

  /** Runs retention to the end in one go (tests and tools; the daemon spreads the tasks over cycles). */
  applyRetention(now: number, rawSeconds: number, rollupSeconds: number): number {
    let deleted = 0;
    for (const task of this.retentionTasks(retentionCutoffs(now, rawSeconds, rollupSeconds))) {
      for (let n = task.step(); n > 0; n = task.step()) deleted += n;
    }
    return deleted;
  }
}
