/**
 * The SQLite store: every SQL statement of the project lives in this folder. `Store` is the
 * facade the rest of the code uses; its methods delegate to one repository per concern, all over
 * the one connection that `database.ts` opens and hides:
 *
 * - database.ts: opening (pragmas, migrations), transactions, the cycle transaction, write health;
 * - samples.ts: samples (and node_epochs), rollups, failures, settings, events;
 *   sample-columns.ts: the column table of a sample, from which its statements are generated;
 * - analyses.ts: node and cluster analysis history, the latest analyses;
 * - alerts.ts, outbox.ts: alerts and their notifications;
 * - retention.ts: deleting old history in small batches.
 */
import type Database from 'better-sqlite3';
import type { SampleDelta } from '../sampler/epoch.js';
import type { NodeOutcome } from '../sampler/sampler.js';
import type { ClusterAnalysis } from '../analysis/cluster-analysis.js';
import type { Logger } from '../log/logger.js';
import { StoreDatabase, type CheckpointOwner, type WriteHealth } from './database.js';
import { SampleRepository, type MinuteRollup, type NodeSettings, type StoredEvent, type StoredFailure, type StoredSample } from './samples.js';
import { AnalysisRepository } from './analyses.js';
import { AlertRepository, type StoredAlert } from './alerts.js';
import { OutboxRepository, type OutboxEntry } from './outbox.js';
import { RetentionRepository, type RetentionCutoffs, type RetentionTask } from './retention.js';
import { Checkpointer, type CheckpointerOptions } from './checkpointer.js';

export type { WriteHealth } from './database.js';
export type { MinuteRollup, NodeSettings, StoredEvent, StoredFailure, StoredSample } from './samples.js';
export type { StoredAlert } from './alerts.js';
export type { OutboxEntry } from './outbox.js';
export { NOTIFICATION_RETENTION_MS, retentionCutoffs, type RetentionCutoffs, type RetentionTask } from './retention.js';

export class Store {
  readonly #database: StoreDatabase;
  readonly #samples: SampleRepository;
  readonly #analyses: AnalysisRepository;
  readonly #alerts: AlertRepository;
  readonly #outbox: OutboxRepository;
  readonly #retention: RetentionRepository;

  /** `cacheSizeBytes`: this connection's page cache (better-sqlite3's SQLite keeps up to 16 MB unless told). */
  constructor(file: string, options: { cacheSizeBytes?: number } = {}) {
    this.#database = new StoreDatabase(file, options);
    this.#samples = new SampleRepository(this.#database);
    this.#analyses = new AnalysisRepository(this.#database);
    this.#alerts = new AlertRepository(this.#database);
    this.#outbox = new OutboxRepository(this.#database);
    this.#retention = new RetentionRepository(this.#database);
  }

  /**
   * The raw connection, for the store's own tests (pragmas, rows the store does not write). Writes
   * made through it bypass write-health tracking; nothing outside src/store and its tests uses it.
   */
  get db(): Database.Database {
    return this.#database.connection;
  }

  /** Failed writes by SQLite error code, since start. */
  get writeErrors(): Map<string, number> {
    return this.#database.writeErrors;
  }

  // --- transactions and write health (database.ts) --------------------------------------------

  /**
   * Runs `fn` in one transaction (nested calls join the outer one). Every write of the project
   * goes through here or a repository's write, so that readiness and the error counter see each outcome.
   */
  transaction<T>(fn: () => T): T {
    return this.#database.transaction(fn);
  }

  /**
   * A write transaction that spans several turns of the event loop (the cycle pipeline writes a
   * cycle in slices). Writes made meanwhile on this connection join it.
   */
  beginCycle(): void {
    this.#database.beginCycle();
  }

  commitCycle(): void {
    this.#database.commitCycle();
  }

  rollbackCycle(): void {
    this.#database.rollbackCycle();
  }

  /** How the most recent write went; never takes a lock, so readiness checks cannot block. */
  writeHealth(): WriteHealth {
    return this.#database.writeHealth();
  }

  /** Where checkpoints run, for the checkpointer (checkpointer.ts). */
  get checkpoints(): CheckpointOwner {
    return this.#database.checkpoints;
  }

  /**
   * Starts a checkpointer for the store's file, which takes this connection's checkpoints over
   * until it is closed and syncs off the event loop (checkpointer.ts); null in memory, where no
   * file is synced. Call it once.
   */
  startCheckpointer(log: Logger, options?: CheckpointerOptions): Checkpointer | null {
    const file = this.#database.file;
    return file === null ? null : new Checkpointer(file, this.checkpoints, log, options);
  }

  close(): void {
    this.#database.close();
  }

  // --- samples, rollups, failures, settings, events (samples.ts) --------------------------------

  /** Saves a sample and, when it continues its epoch, adds its delta to the minute's rollup, atomically. */
  recordSample(sample: StoredSample, delta: SampleDelta | null): void {
    this.#samples.recordSample(sample, delta);
  }

  /** Everything one sampling cycle produced, in one transaction. */
  recordCycle(outcomes: readonly NodeOutcome[]): void {
    this.#samples.recordCycle(outcomes);
  }

  recordFailure(failure: StoredFailure): void {
    this.#samples.recordFailure(failure);
  }

  recordSettings(settings: NodeSettings): void {
    this.#samples.recordSettings(settings);
  }

  recordEvent(event: StoredEvent): void {
    this.#samples.recordEvent(event);
  }

  /** The newest sample of a node, or null: the sampler's starting point after a restart. */
  latestSample(cluster: string, node: string): StoredSample | null {
    return this.#samples.latestSample(cluster, node);
  }

  /** A node's samples since `from` as the analysis keeps them (see SampleRepository). */
  samplesForAnalysis(cluster: string, node: string, from: number, fullFrom: number): StoredSample[] {
    return this.#samples.samplesForAnalysis(cluster, node, from, fullFrom);
  }

  samples(cluster: string, node: string, from: number, to: number): StoredSample[] {
    return this.#samples.samples(cluster, node, from, to);
  }

  sampleCount(cluster: string, node: string): number {
    return this.#samples.sampleCount(cluster, node);
  }

  failures(cluster: string, node: string, from: number, to: number): StoredFailure[] {
    return this.#samples.failures(cluster, node, from, to);
  }

  latestSettings(cluster: string, node: string): NodeSettings | null {
    return this.#samples.latestSettings(cluster, node);
  }

  rollups(cluster: string, node: string, from: number, to: number): MinuteRollup[] {
    return this.#samples.rollups(cluster, node, from, to);
  }

  /** Per-day sums of the rollups since `from`, for the trend. */
  dailyTotals(cluster: string, node: string, from: number): Array<{ minute: number; seconds: number; bytes: number }> {
    return this.#samples.dailyTotals(cluster, node, from);
  }

  /** Events of every node of a cluster (or all clusters), newest first. */
  recentEvents(cluster: string | null, from: number, limit: number): StoredEvent[] {
    return this.#samples.recentEvents(cluster, from, limit);
  }

  events(cluster: string, node: string, from: number, to: number): StoredEvent[] {
    return this.#samples.events(cluster, node, from, to);
  }

  countEvents(cluster: string, node: string, kind: string, since: number): number {
    return this.#samples.countEvents(cluster, node, kind, since);
  }

  // --- analyses (analyses.ts) -----------------------------------------------------------------

  /** Saves one cycle's analysis of a cluster: the figures into the history, the whole into the latest. */
  recordAnalysis(analysis: ClusterAnalysis): void {
    this.#analyses.recordAnalysis(analysis);
  }

  /** Replaces the stored latest analysis of the cluster (the whole of it, with its explanations). */
  recordLatestAnalysis(analysis: ClusterAnalysis): void {
    this.#analyses.recordLatestAnalysis(analysis);
  }

  latestAnalyses(): ClusterAnalysis[] {
    return this.#analyses.latestAnalyses();
  }

  nodeAnalysisHistory(cluster: string, node: string, from: number, to: number): Array<Record<string, number | string | null>> {
    return this.#analyses.nodeAnalysisHistory(cluster, node, from, to);
  }

  /** The figures of a node between two times, averaged per step, at most `limit` rows. */
  nodeAnalysisSeries(cluster: string, node: string, from: number, to: number, stepMs: number, limit: number): Array<Record<string, number | null>> {
    return this.#analyses.nodeAnalysisSeries(cluster, node, from, to, stepMs, limit);
  }

  // --- alerts (alerts.ts) ---------------------------------------------------------------------

  openAlerts(): StoredAlert[] {
    return this.#alerts.openAlerts();
  }

  alertHistory(from: number, limit: number): StoredAlert[] {
    return this.#alerts.alertHistory(from, limit);
  }

  /** Inserts a new alert or updates an open one; returns its id. */
  saveAlert(a: Omit<StoredAlert, 'id'> & { id?: number }): number {
    return this.#alerts.saveAlert(a);
  }

  /** Deletes a pending alert that never fired: it is no history worth keeping. */
  deleteAlert(id: number): void {
    this.#alerts.deleteAlert(id);
  }

  // --- outbox (outbox.ts) ---------------------------------------------------------------------

  /** Writes a notification before any attempt to send it; a repeated key is ignored. */
  enqueue(n: { sink: string; alertId: number; kind: 'firing' | 'resolved'; idempotencyKey: string; payload: unknown; now: number }): void {
    this.#outbox.enqueue(n);
  }

  /** True when a firing notification of this alert still waits for delivery to this sink. */
  hasPendingFiring(alertId: number, sink: string): boolean {
    return this.#outbox.hasPendingFiring(alertId, sink);
  }

  /** Expires the firing notifications of an alert that still wait for delivery. */
  expirePendingFiring(alertId: number, now: number): number {
    return this.#outbox.expirePendingFiring(alertId, now);
  }

  /** Expires the undelivered notifications of sinks not in `sinks` (removed from the config). */
  expireOrphans(sinks: readonly string[], now: number): number {
    return this.#outbox.expireOrphans(sinks, now);
  }

  /** Expires every undelivered notification created before `createdBefore`; returns how many. */
  expireStale(createdBefore: number, now: number): number {
    return this.#outbox.expireStale(createdBefore, now);
  }

  /** The notifications of one sink that are due, oldest first. */
  dueNotifications(sink: string, now: number, limit: number): OutboxEntry[] {
    return this.#outbox.dueNotifications(sink, now, limit);
  }

  /** When the next notification of a sink falls due, or null when none waits. */
  nextDueAt(sink: string): number | null {
    return this.#outbox.nextDueAt(sink);
  }

  markDelivered(id: number, now: number): void {
    this.#outbox.markDelivered(id, now);
  }

  markFailed(id: number, error: string, nextAttemptAt: number): void {
    this.#outbox.markFailed(id, error, nextAttemptAt);
  }

  markExpired(id: number, now: number): void {
    this.#outbox.markExpired(id, now);
  }

  notifications(limit = 100): OutboxEntry[] {
    return this.#outbox.notifications(limit);
  }

  // --- retention (retention.ts) ---------------------------------------------------------------

  /** The work retention has to do, as tasks that each delete one small batch per call. */
  retentionTasks(c: RetentionCutoffs): RetentionTask[] {
    return this.#retention.retentionTasks(c);
  }

  /** Runs retention to the end in one go (tests and tools; the daemon spreads the tasks over cycles). */
  applyRetention(now: number, rawSeconds: number, rollupSeconds: number): number {
    return this.#retention.applyRetention(now, rawSeconds, rollupSeconds);
  }
}
