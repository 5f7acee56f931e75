/**
 * The SQLite store: every SQL statement of the project lives in this folder.
 *
 * WAL mode with synchronous=NORMAL: a committed transaction is in the WAL file before commit
 * returns, so killing the daemon (even with -9) loses nothing committed; only a power loss
 * could drop the last transactions, which the next samples replace anyway.
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrations.js';
import type { NodeStatus } from '../sampler/status.js';
import type { SampleDelta } from '../sampler/epoch.js';
import type { NodeOutcome } from '../sampler/sampler.js';
import type { GcacheSettings } from '../sampler/provider-options.js';
import type { ClusterAnalysis } from '../analysis/cluster-analysis.js';

export interface StoredSample {
  cluster: string;
  node: string;
  takenAt: number;
  epoch: number;
  durationMs: number;
  status: NodeStatus;
}

export interface StoredFailure {
  cluster: string;
  node: string;
  takenAt: number;
  reason: string;
  message: string;
}

export interface NodeSettings extends GcacheSettings {
  cluster: string;
  node: string;
  epoch: number;
  readAt: number;
  sstDonor: string;
}

export interface StoredEvent {
  cluster: string;
  node: string;
  at: number;
  kind: string;
  detail: Record<string, unknown>;
}

export interface StoredAlert {
  id: number;
  fingerprint: string;
  rule: string;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'resolved';
  activeAt: number;
  firedAt: number | null;
  resolvedAt: number | null;
  lastNotifiedAt: number | null;
}

export interface OutboxEntry {
  id: number;
  sink: string;
  alertId: number;
  kind: 'firing' | 'resolved';
  idempotencyKey: string;
  payload: unknown;
  createdAt: number;
  nextAttemptAt: number;
  attempts: number;
  deliveredAt: number | null;
  expiredAt: number | null;
  lastError: string | null;
}

export interface MinuteRollup {
  minute: number;
  epoch: number;
  seconds: number;
  bytes: number;
  writeSets: number;
  samples: number;
  lastAt: number;
  lastCommitted: number;
}

interface SampleRow {
  cluster: string;
  node: string;
  taken_at: number;
  epoch: number;
  received_bytes: number;
  replicated_bytes: number;
  received: number;
  replicated: number;
  last_committed: number;
  cached_downto: number | null;
  local_state: string;
  cluster_status: string;
  cluster_size: number;
  /** From node_epochs: constant within an epoch. */
  local_state_uuid: string | null;
  cluster_state_uuid: string | null;
  segment: number | null;
  flow_control_paused: number | null;
  uptime: number;
  duration_ms: number;
}

/** Rows deleted per statement by retention: small enough that one batch takes a few ms. */
const RETENTION_BATCH = 500;
/**
 * How much of a node's oldest raw history one retention batch deletes: an hour is 360 samples at
 * 10 s; the per-minute tables take a day (24 spans) per batch, 1,440 rows.
 */
const RETENTION_SPAN_MS = 3600_000;

export interface RetentionTask {
  name: string;
  /** Deletes one batch; returns how many rows went, 0 when nothing is left. */
  step(): number;
}
/**
 * How long a write waits for a lock held by another connection. Short on purpose: the daemon is
 * the only writer, so a lock held elsewhere is an outsider (a backup, a manual session), and every
 * millisecond waited here is the event loop blocked. A write that gives up is counted and retried
 * with the next cycle.
 */
const BUSY_TIMEOUT_MS = 100;

/** How the most recent write went, for readiness and the store-error counter. */
export interface WriteHealth {
  ok: boolean;
  /** The SQLite error code of the last failed write (SQLITE_FULL, SQLITE_BUSY...), when not ok. */
  reason: string | null;
  since: number | null;
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
export const NOTIFICATION_RETENTION_MS = 7 * 86400_000;

export function retentionCutoffs(now: number, rawSeconds: number, rollupSeconds: number): RetentionCutoffs {
  return { raw: now - rawSeconds * 1000, rollups: now - rollupSeconds * 1000, notifications: now - NOTIFICATION_RETENTION_MS };
}

export class Store {
  readonly db: Database.Database;
  private readonly stmts;
  private health: WriteHealth = { ok: true, reason: null, since: null };
  /** The epoch row last written per node, so that it is written again only when it changes. */
  private readonly epochsWritten = new Map<string, string>();
  /** Failed writes by SQLite error code, since start. */
  readonly writeErrors = new Map<string, number>();

  constructor(file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.db.pragma('foreign_keys = ON');
    migrate(this.db);
    this.stmts = {
      insertSample: this.db.prepare(`INSERT OR REPLACE INTO samples (cluster, node, taken_at, epoch, received_bytes, replicated_bytes, received,
          replicated, last_committed, cached_downto, local_state, cluster_status, cluster_size, segment, flow_control_paused, uptime, duration_ms)
        VALUES (@cluster, @node, @taken_at, @epoch, @received_bytes, @replicated_bytes, @received, @replicated, @last_committed,
          @cached_downto, @local_state, @cluster_status, @cluster_size, @segment, @flow_control_paused, @uptime, @duration_ms)`),
      upsertEpoch: this.db.prepare(`INSERT INTO node_epochs (cluster, node, epoch, local_state_uuid, cluster_state_uuid)
        VALUES (@cluster, @node, @epoch, @local_state_uuid, @cluster_state_uuid)
        ON CONFLICT (cluster, node, epoch) DO UPDATE SET local_state_uuid = excluded.local_state_uuid, cluster_state_uuid = excluded.cluster_state_uuid
        WHERE local_state_uuid != excluded.local_state_uuid OR cluster_state_uuid != excluded.cluster_state_uuid`),
      upsertRollup: this.db.prepare(`INSERT INTO rollups_1m (cluster, node, minute, epoch, seconds, bytes, write_sets, samples, last_at, last_committed)
        VALUES (@cluster, @node, @minute, @epoch, @seconds, @bytes, @write_sets, 1, @last_at, @last_committed)
        ON CONFLICT (cluster, node, minute, epoch) DO UPDATE SET
          seconds = seconds + excluded.seconds, bytes = bytes + excluded.bytes, write_sets = write_sets + excluded.write_sets,
          samples = samples + 1, last_at = excluded.last_at, last_committed = excluded.last_committed`),
      insertFailure: this.db.prepare(`INSERT INTO sample_failures (cluster, node, taken_at, reason, message) VALUES (?, ?, ?, ?, ?)`),
      upsertSettings: this.db.prepare(`INSERT OR REPLACE INTO node_settings (cluster, node, epoch, read_at, gcache_size, gcache_page_size,
          gcache_keep_pages_size, gcache_recover, gmcast_segment, sst_donor)
        VALUES (@cluster, @node, @epoch, @readAt, @sizeBytes, @pageSizeBytes, @keepPagesSizeBytes, @recover, @segment, @sstDonor)`),
      insertEvent: this.db.prepare(`INSERT INTO events (cluster, node, at, kind, detail) VALUES (?, ?, ?, ?, ?)`),
      latestSample: this.db.prepare(`SELECT s.*, e.local_state_uuid, e.cluster_state_uuid FROM samples s LEFT JOIN node_epochs e ON e.cluster = s.cluster AND e.node = s.node AND e.epoch = s.epoch
        WHERE s.cluster = ? AND s.node = ? ORDER BY s.taken_at DESC LIMIT 1`),
      samplesForAnalysis: this.db.prepare(`SELECT s.*, e.local_state_uuid, e.cluster_state_uuid FROM samples s LEFT JOIN node_epochs e ON e.cluster = s.cluster AND e.node = s.node AND e.epoch = s.epoch
        WHERE s.cluster = @cluster AND s.node = @node AND s.taken_at >= @from AND (s.taken_at >= @fullFrom OR s.taken_at IN (
          SELECT MAX(taken_at) FROM samples WHERE cluster = @cluster AND node = @node AND taken_at >= @from AND taken_at < @fullFrom GROUP BY taken_at / 60000, epoch
          UNION SELECT MIN(taken_at) FROM samples WHERE cluster = @cluster AND node = @node AND taken_at >= @from AND taken_at < @fullFrom GROUP BY epoch
          UNION SELECT MIN(taken_at) FROM samples WHERE cluster = @cluster AND node = @node AND taken_at >= @from AND taken_at < @fullFrom AND cached_downto IS NOT NULL GROUP BY epoch))
        ORDER BY s.taken_at`),
      samplesBetween: this.db.prepare(`SELECT s.*, e.local_state_uuid, e.cluster_state_uuid FROM samples s LEFT JOIN node_epochs e ON e.cluster = s.cluster AND e.node = s.node AND e.epoch = s.epoch
        WHERE s.cluster = ? AND s.node = ? AND s.taken_at >= ? AND s.taken_at <= ? ORDER BY s.taken_at`),
      failuresBetween: this.db.prepare(`SELECT cluster, node, taken_at, reason, message FROM sample_failures
        WHERE cluster = ? AND node = ? AND taken_at >= ? AND taken_at <= ? ORDER BY taken_at`),
      latestSettings: this.db.prepare(`SELECT * FROM node_settings WHERE cluster = ? AND node = ? ORDER BY epoch DESC LIMIT 1`),
      rollupsBetween: this.db.prepare(`SELECT minute, epoch, seconds, bytes, write_sets, samples, last_at, last_committed FROM rollups_1m
        WHERE cluster = ? AND node = ? AND minute >= ? AND minute <= ? ORDER BY minute, epoch`),
      eventsBetween: this.db.prepare(`SELECT cluster, node, at, kind, detail FROM events WHERE cluster = ? AND node = ? AND at >= ? AND at <= ? ORDER BY at`),
      countSamples: this.db.prepare(`SELECT COUNT(*) AS n FROM samples WHERE cluster = ? AND node = ?`),
      countEvents: this.db.prepare(`SELECT COUNT(*) AS n FROM events WHERE cluster = ? AND node = ? AND kind = ? AND at >= ?`),
      dailyTotals: this.db.prepare(`SELECT (minute / 86400000) * 86400000 AS minute, SUM(seconds) AS seconds, SUM(bytes) AS bytes
        FROM rollups_1m WHERE cluster = ? AND node = ? AND minute >= ? GROUP BY minute / 86400000 ORDER BY 1`),
      insertNodeAnalysis: this.db.prepare(`INSERT OR REPLACE INTO node_analysis (cluster, node, computed_at, ring, measured_seconds, age_seconds,
          estimated_short_seconds, estimated_long_seconds, classic_short_seconds, classic_long_seconds, ist_current_seconds,
          ist_pessimistic_seconds, donor, rate_short_bps, rate_long_bps, writesets_short_per_s, writesets_long_per_s)
        VALUES (@cluster, @node, @computed_at, @ring, @measured_seconds, @age_seconds, @estimated_short_seconds, @estimated_long_seconds,
          @classic_short_seconds, @classic_long_seconds, @ist_current_seconds, @ist_pessimistic_seconds, @donor, @rate_short_bps,
          @rate_long_bps, @writesets_short_per_s, @writesets_long_per_s)`),
      insertClusterAnalysis: this.db.prepare(`INSERT OR REPLACE INTO cluster_analysis (cluster, computed_at, target_seconds, recommended_bytes) VALUES (?, ?, ?, ?)`),
      upsertLatestAnalysis: this.db.prepare(`INSERT OR REPLACE INTO latest_analysis (cluster, computed_at, detail) VALUES (?, ?, ?)`),
      latestAnalyses: this.db.prepare(`SELECT detail FROM latest_analysis ORDER BY cluster`),
      nodeAnalysisBetween: this.db.prepare(`SELECT * FROM node_analysis WHERE cluster = ? AND node = ? AND computed_at >= ? AND computed_at <= ? ORDER BY computed_at`),
      nodeAnalysisSeries: this.db.prepare(`SELECT @from + ((computed_at - @from) / @step) * @step AS at,
           AVG(measured_seconds) AS measuredSeconds, AVG(estimated_short_seconds) AS estimatedShortSeconds,
           AVG(estimated_long_seconds) AS estimatedLongSeconds, AVG(ist_current_seconds) AS istBudgetCurrentSeconds,
           AVG(ist_pessimistic_seconds) AS istBudgetPessimisticSeconds, AVG(rate_short_bps) AS writeRateShortBytesPerSecond,
           AVG(rate_long_bps) AS writeRateLongBytesPerSecond, AVG(writesets_short_per_s) AS writeSetsShortPerSecond,
           COUNT(*) AS samples
         FROM node_analysis WHERE cluster = @cluster AND node = @node AND computed_at >= @from AND computed_at <= @to
         GROUP BY (computed_at - @from) / @step ORDER BY 1 LIMIT @limit`),
      recentEvents: this.db.prepare(`SELECT cluster, node, at, kind, detail FROM events WHERE at >= ? ORDER BY at DESC LIMIT ?`),
      recentClusterEvents: this.db.prepare(`SELECT cluster, node, at, kind, detail FROM events WHERE cluster = ? AND at >= ? ORDER BY at DESC LIMIT ?`),
      openAlerts: this.db.prepare(`SELECT * FROM alerts WHERE state != 'resolved' ORDER BY id`),
      alertHistory: this.db.prepare(`SELECT * FROM alerts WHERE active_at >= ? ORDER BY id DESC LIMIT ?`),
      insertAlert: this.db.prepare(`INSERT INTO alerts (fingerprint, rule, severity, labels, annotations, state, active_at, fired_at, resolved_at, last_notified_at)
            VALUES (@fingerprint, @rule, @severity, @labels, @annotations, @state, @active_at, @fired_at, @resolved_at, @last_notified_at)`),
      updateAlert: this.db.prepare(`UPDATE alerts SET severity = @severity, labels = @labels, annotations = @annotations, state = @state, fired_at = @fired_at,
          resolved_at = @resolved_at, last_notified_at = @last_notified_at WHERE id = @id`),
      deleteAlert: this.db.prepare(`DELETE FROM alerts WHERE id = ?`),
      enqueue: this.db.prepare(`INSERT OR IGNORE INTO outbox (sink, alert_id, kind, idempotency_key, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      pendingFiring: this.db.prepare(`SELECT 1 FROM outbox WHERE alert_id = ? AND sink = ? AND kind = 'firing' AND delivered_at IS NULL AND expired_at IS NULL LIMIT 1`),
      expirePendingFiring: this.db.prepare(`UPDATE outbox SET expired_at = ?, last_error = 'superseded by the resolution'
        WHERE alert_id = ? AND kind = 'firing' AND delivered_at IS NULL AND expired_at IS NULL`),
      expireOrphans: this.db.prepare(`UPDATE outbox SET expired_at = ?, last_error = 'sink no longer configured'
        WHERE delivered_at IS NULL AND expired_at IS NULL AND sink NOT IN (SELECT value FROM json_each(?))`),
      expireStale: this.db.prepare(`UPDATE outbox SET expired_at = ? WHERE delivered_at IS NULL AND expired_at IS NULL AND created_at < ?`),
      dueNotifications: this.db.prepare(`SELECT * FROM outbox WHERE sink = ? AND delivered_at IS NULL AND expired_at IS NULL AND next_attempt_at <= ?
        ORDER BY next_attempt_at, id LIMIT ?`),
      nextDue: this.db.prepare(`SELECT MIN(next_attempt_at) AS t FROM outbox WHERE sink = ? AND delivered_at IS NULL AND expired_at IS NULL`),
      markDelivered: this.db.prepare(`UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?`),
      markFailed: this.db.prepare(`UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?`),
      markExpired: this.db.prepare(`UPDATE outbox SET expired_at = ? WHERE id = ?`),
      notifications: this.db.prepare(`SELECT * FROM outbox ORDER BY id DESC LIMIT ?`),
      knownNodes: this.db.prepare(`SELECT DISTINCT cluster, node FROM node_epochs UNION SELECT DISTINCT cluster, node FROM node_settings`),
      knownClusters: this.db.prepare(`SELECT DISTINCT cluster FROM node_epochs UNION SELECT cluster FROM latest_analysis`),
      retention: {
        failures: this.db.prepare('DELETE FROM sample_failures WHERE id IN (SELECT id FROM sample_failures WHERE taken_at < ? LIMIT ?)'),
        events: this.db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? LIMIT ?)'),
        // Delivered and expired notifications are kept a while for inspection, then go.
        outbox: this.db.prepare(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
          WHERE COALESCE(delivered_at, expired_at) < ? LIMIT ?)`),
        // Resolved alerts are history; kept as long as the rollups, with no notification left.
        alerts: this.db.prepare(`DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE state = 'resolved' AND resolved_at < ?
          AND id NOT IN (SELECT alert_id FROM outbox) LIMIT ?)`),
        // A node's rows older than the cutoff, at most its oldest `span` of them per call.
        samples: this.db.prepare(`DELETE FROM samples WHERE cluster = @cluster AND node = @node AND taken_at < MIN(@cutoff,
          (SELECT MIN(taken_at) FROM samples WHERE cluster = @cluster AND node = @node) + @span)`),
        rollups: this.db.prepare(`DELETE FROM rollups_1m WHERE cluster = @cluster AND node = @node AND minute < MIN(@cutoff,
          (SELECT MIN(minute) FROM rollups_1m WHERE cluster = @cluster AND node = @node) + @span * 24)`),
        nodeAnalysis: this.db.prepare(`DELETE FROM node_analysis WHERE cluster = @cluster AND node = @node AND computed_at < MIN(@cutoff,
          (SELECT MIN(computed_at) FROM node_analysis WHERE cluster = @cluster AND node = @node) + @span * 24)`),
        clusterAnalysis: this.db.prepare(`DELETE FROM cluster_analysis WHERE cluster = @cluster AND computed_at < MIN(@cutoff,
          (SELECT MIN(computed_at) FROM cluster_analysis WHERE cluster = @cluster) + @span * 24)`),
      },
    };
  }

  /** Saves a sample and, when it continues its epoch, adds its delta to the minute's rollup, atomically. */
  recordSample(sample: StoredSample, delta: SampleDelta | null): void {
    this.transaction(() => {
      const row = toRow(sample);
      this.stmts.insertSample.run(row);
      // The uuids change with a new epoch (or once from empty): written then, not every sample.
      const key = `${row.cluster}\u0000${row.node}`;
      const epochRow = `${row.epoch}\u0000${row.local_state_uuid}\u0000${row.cluster_state_uuid}`;
      if (this.epochsWritten.get(key) !== epochRow) {
        this.stmts.upsertEpoch.run(row);
        this.epochsWritten.set(key, epochRow);
      }
      if (delta) {
        this.stmts.upsertRollup.run({
          cluster: sample.cluster,
          node: sample.node,
          minute: Math.floor(sample.takenAt / 60_000) * 60_000,
          epoch: sample.epoch,
          seconds: delta.seconds,
          bytes: delta.bytes,
          write_sets: delta.writeSets,
          last_at: sample.takenAt,
          last_committed: sample.status.lastCommitted,
        });
      }
    });
  }

  /**
   * Everything one sampling cycle produced, in one transaction: samples with their rollups,
   * gcache settings, epoch events, and the failures of the nodes that were contacted.
   */
  recordCycle(outcomes: readonly NodeOutcome[]): void {
    this.transaction(() => {
      for (const o of outcomes) {
        if (o.ok) {
          this.recordSample(o.sample, o.delta);
          if (o.settings) this.recordSettings(o.settings);
          for (const e of o.events) this.recordEvent(e);
          for (const f of o.failures) this.recordFailure(f);
        } else if (!o.backingOff) {
          this.recordFailure({ cluster: o.cluster, node: o.node, takenAt: o.takenAt, reason: o.failure.reason, message: o.failure.message });
        }
      }
    });
  }

  recordFailure(failure: StoredFailure): void {
    this.write(() => this.stmts.insertFailure.run(failure.cluster, failure.node, failure.takenAt, failure.reason, failure.message));
  }

  recordSettings(settings: NodeSettings): void {
    this.write(() => this.stmts.upsertSettings.run({ ...settings, recover: settings.recover ? 1 : 0 }));
  }

  recordEvent(event: StoredEvent): void {
    this.write(() => this.stmts.insertEvent.run(event.cluster, event.node, event.at, event.kind, JSON.stringify(event.detail)));
  }

  /**
   * Runs `fn` in one transaction (nested calls join the outer one). Every write of the project
   * goes through here or `write`, so that readiness and the error counter see each outcome.
   */
  transaction<T>(fn: () => T): T {
    // Inside a transaction already (the cycle's): join it. A savepoint per nested call would cost
    // more than the insert it wraps, and an error rolls the whole cycle back anyway.
    if (this.db.inTransaction) return fn();
    return this.track(() => this.db.transaction(fn)()); // a committed transaction proves the store writable
  }

  /**
   * A write transaction that spans several turns of the event loop (the cycle pipeline writes a
   * cycle in slices). Writes made meanwhile on this connection join it.
   */
  beginCycle(): void {
    this.track(() => this.db.exec('BEGIN IMMEDIATE'));
  }

  commitCycle(): void {
    this.track(() => this.db.exec('COMMIT'));
  }

  rollbackCycle(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.epochsWritten.clear(); // what it had written is gone with it
  }

  /** How the most recent write went; never takes a lock, so readiness checks cannot block. */
  writeHealth(): WriteHealth {
    return this.health;
  }

  private write<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    return this.track(fn, wroteRows);
  }

  /** Runs a write and records how it went, for readiness and the error counter. */
  private track<T>(fn: () => T, proves: (result: T) => boolean = () => true): T {
    try {
      const result = fn();
      // Only a write that wrote something shows the store writable again: on a full disk a
      // statement that changes no row (an outbox sweep with nothing to expire) still succeeds.
      if (!this.health.ok && proves(result)) this.health = { ok: true, reason: null, since: null };
      return result;
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'SQLITE_ERROR';
      this.writeErrors.set(code, (this.writeErrors.get(code) ?? 0) + 1);
      if (this.health.ok || this.health.reason !== code) this.health = { ok: false, reason: code, since: Date.now() };
      throw err;
    }
  }

  /** The newest sample of a node, or null: the sampler's starting point after a restart. */
  latestSample(cluster: string, node: string): StoredSample | null {
    const row = this.stmts.latestSample.get(cluster, node) as SampleRow | undefined;
    return row ? fromRow(row) : null;
  }

  /**
   * A node's samples since `from` as the analysis keeps them: every sample from `fullFrom` on,
   * and before that the last of each minute and epoch plus each epoch's first (with and without a
   * cached seqno), so a restart loads what the analysis needs, not every raw row.
   */
  samplesForAnalysis(cluster: string, node: string, from: number, fullFrom: number): StoredSample[] {
    const params = { cluster, node, from: BigInt(Math.floor(from)), fullFrom: BigInt(Math.floor(Math.max(from, fullFrom))) };
    return (this.stmts.samplesForAnalysis.all(params) as SampleRow[]).map(fromRow);
  }

  samples(cluster: string, node: string, from: number, to: number): StoredSample[] {
    return (this.stmts.samplesBetween.all(cluster, node, from, to) as SampleRow[]).map(fromRow);
  }

  sampleCount(cluster: string, node: string): number {
    return (this.stmts.countSamples.get(cluster, node) as { n: number }).n;
  }

  failures(cluster: string, node: string, from: number, to: number): StoredFailure[] {
    return (this.stmts.failuresBetween.all(cluster, node, from, to) as Array<{ cluster: string; node: string; taken_at: number; reason: string; message: string }>).map(
      (r) => ({ cluster: r.cluster, node: r.node, takenAt: r.taken_at, reason: r.reason, message: r.message }),
    );
  }

  latestSettings(cluster: string, node: string): NodeSettings | null {
    const r = this.stmts.latestSettings.get(cluster, node) as
      | { cluster: string; node: string; epoch: number; read_at: number; gcache_size: number; gcache_page_size: number; gcache_keep_pages_size: number; gcache_recover: number; gmcast_segment: number; sst_donor: string }
      | undefined;
    if (!r) return null;
    return {
      cluster: r.cluster,
      node: r.node,
      epoch: r.epoch,
      readAt: r.read_at,
      sizeBytes: r.gcache_size,
      pageSizeBytes: r.gcache_page_size,
      keepPagesSizeBytes: r.gcache_keep_pages_size,
      recover: r.gcache_recover === 1,
      segment: r.gmcast_segment,
      sstDonor: r.sst_donor,
    };
  }

  rollups(cluster: string, node: string, from: number, to: number): MinuteRollup[] {
    return (this.stmts.rollupsBetween.all(cluster, node, from, to) as Array<Record<string, number>>).map((r) => ({
      minute: r.minute!,
      epoch: r.epoch!,
      seconds: r.seconds!,
      bytes: r.bytes!,
      writeSets: r.write_sets!,
      samples: r.samples!,
      lastAt: r.last_at!,
      lastCommitted: r.last_committed!,
    }));
  }

  /** Events of every node of a cluster (or all clusters), newest first. */
  recentEvents(cluster: string | null, from: number, limit: number): StoredEvent[] {
    const rows = (cluster === null ? this.stmts.recentEvents.all(from, limit) : this.stmts.recentClusterEvents.all(cluster, from, limit)) as Array<{
      cluster: string;
      node: string;
      at: number;
      kind: string;
      detail: string;
    }>;
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  events(cluster: string, node: string, from: number, to: number): StoredEvent[] {
    return (this.stmts.eventsBetween.all(cluster, node, from, to) as Array<{ cluster: string; node: string; at: number; kind: string; detail: string }>).map(
      (r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }),
    );
  }

  /** Saves one cycle's analysis of a cluster: the figures into the history, the whole into the latest. */
  recordAnalysis(analysis: ClusterAnalysis): void {
    this.transaction(() => {
      for (const n of analysis.nodes) {
        this.stmts.insertNodeAnalysis.run({
          cluster: n.cluster,
          node: n.node,
          computed_at: n.computedAt,
          ring: n.measured.ring,
          measured_seconds: whole(n.measured.measuredSeconds),
          age_seconds: whole(n.measured.ageSeconds),
          estimated_short_seconds: whole(n.estimated.short.bestSeconds),
          estimated_long_seconds: whole(n.estimated.long.bestSeconds),
          classic_short_seconds: whole(n.estimated.short.classicSeconds),
          classic_long_seconds: whole(n.estimated.long.classicSeconds),
          ist_current_seconds: whole(n.istBudget.current?.seconds ?? null),
          ist_pessimistic_seconds: whole(n.istBudget.pessimistic?.seconds ?? null),
          donor: n.istBudget.current?.donor ?? null,
          rate_short_bps: whole(n.rates.short?.bytesPerSecond ?? null),
          rate_long_bps: whole(n.rates.long?.bytesPerSecond ?? null),
          writesets_short_per_s: hundredths(n.rates.short?.writeSetsPerSecond ?? null),
          writesets_long_per_s: hundredths(n.rates.long?.writeSetsPerSecond ?? null),
        });
      }
      this.stmts.insertClusterAnalysis.run(analysis.cluster, analysis.computedAt, analysis.recommendation.targetWindowSeconds, analysis.recommendation.recommendedGcacheSizeBytes);
      this.recordLatestAnalysis(analysis);
    });
  }

  /** Replaces the stored latest analysis of the cluster (the whole of it, with its explanations). */
  recordLatestAnalysis(analysis: ClusterAnalysis): void {
    this.write(() => this.stmts.upsertLatestAnalysis.run(analysis.cluster, analysis.computedAt, JSON.stringify(analysis)));
  }

  latestAnalyses(): ClusterAnalysis[] {
    return (this.stmts.latestAnalyses.all() as Array<{ detail: string }>).map((r) => JSON.parse(r.detail) as ClusterAnalysis);
  }

  nodeAnalysisHistory(cluster: string, node: string, from: number, to: number): Array<Record<string, number | string | null>> {
    return this.stmts.nodeAnalysisBetween.all(cluster, node, from, to) as Array<Record<string, number | string | null>>;
  }

  /**
   * The figures of a node between two times, averaged per step (like a Prometheus range query):
   * one row per step that has data, `at` being the start of the step, at most `limit` rows.
   * The bucket is computed in integers: better-sqlite3 binds JS numbers as REAL, and a REAL
   * division would put every row in a group of its own.
   */
  nodeAnalysisSeries(cluster: string, node: string, from: number, to: number, stepMs: number, limit: number): Array<Record<string, number | null>> {
    return this.stmts.nodeAnalysisSeries.all({ from: BigInt(Math.floor(from)), step: BigInt(Math.max(1, Math.floor(stepMs))), to: Math.floor(to), cluster, node, limit }) as Array<Record<string, number | null>>;
  }

  // --- alerts -------------------------------------------------------------------------------

  openAlerts(): StoredAlert[] {
    return (this.stmts.openAlerts.all() as AlertRow[]).map(alertFromRow);
  }

  alertHistory(from: number, limit: number): StoredAlert[] {
    return (this.stmts.alertHistory.all(from, limit) as AlertRow[]).map(alertFromRow);
  }

  /** Inserts a new alert or updates an open one; returns its id. */
  saveAlert(a: Omit<StoredAlert, 'id'> & { id?: number }): number {
    const row = {
      fingerprint: a.fingerprint,
      rule: a.rule,
      severity: a.severity,
      labels: JSON.stringify(a.labels),
      annotations: JSON.stringify(a.annotations),
      state: a.state,
      active_at: a.activeAt,
      fired_at: a.firedAt,
      resolved_at: a.resolvedAt,
      last_notified_at: a.lastNotifiedAt,
    };
    return this.write(() => {
      if (a.id === undefined) return Number(this.stmts.insertAlert.run(row).lastInsertRowid);
      this.stmts.updateAlert.run({ ...row, id: a.id });
      return a.id;
    });
  }

  /** Deletes a pending alert that never fired: it is no history worth keeping. */
  deleteAlert(id: number): void {
    this.write(() => this.stmts.deleteAlert.run(id));
  }

  // --- outbox ------------------------------------------------------------------------------

  /** Writes a notification before any attempt to send it; a repeated key is ignored. */
  enqueue(n: { sink: string; alertId: number; kind: 'firing' | 'resolved'; idempotencyKey: string; payload: unknown; now: number }): void {
    this.write(() => this.stmts.enqueue.run(n.sink, n.alertId, n.kind, n.idempotencyKey, JSON.stringify(n.payload), n.now, n.now));
  }

  /** True when a firing notification of this alert still waits for delivery to this sink. */
  hasPendingFiring(alertId: number, sink: string): boolean {
    return this.stmts.pendingFiring.get(alertId, sink) !== undefined;
  }

  /**
   * Expires the firing notifications of an alert that still wait for delivery: once its
   * resolution is queued, a late firing one would re-open it at the receiver.
   */
  expirePendingFiring(alertId: number, now: number): number {
    return this.write(() => this.stmts.expirePendingFiring.run(now, alertId).changes);
  }

  /** Expires the undelivered notifications of sinks not in `sinks` (removed from the config). */
  expireOrphans(sinks: readonly string[], now: number): number {
    return this.write(() => this.stmts.expireOrphans.run(now, JSON.stringify(sinks)).changes);
  }

  /** Expires every undelivered notification created before `createdBefore`; returns how many. */
  expireStale(createdBefore: number, now: number): number {
    return this.write(() => this.stmts.expireStale.run(now, createdBefore).changes);
  }

  /** The notifications of one sink that are due, oldest first. */
  dueNotifications(sink: string, now: number, limit: number): OutboxEntry[] {
    return (this.stmts.dueNotifications.all(sink, now, limit) as OutboxRow[]).map(outboxFromRow);
  }

  /** When the next notification of a sink falls due, or null when none waits. */
  nextDueAt(sink: string): number | null {
    const row = this.stmts.nextDue.get(sink) as { t: number | null } | undefined;
    return row?.t ?? null;
  }

  markDelivered(id: number, now: number): void {
    this.write(() => this.stmts.markDelivered.run(now, id));
  }

  markFailed(id: number, error: string, nextAttemptAt: number): void {
    this.write(() => this.stmts.markFailed.run(error, nextAttemptAt, id));
  }

  markExpired(id: number, now: number): void {
    this.write(() => this.stmts.markExpired.run(now, id));
  }

  notifications(limit = 100): OutboxEntry[] {
    return (this.stmts.notifications.all(limit) as OutboxRow[]).map(outboxFromRow);
  }

  countEvents(cluster: string, node: string, kind: string, since: number): number {
    return (this.stmts.countEvents.get(cluster, node, kind, since) as { n: number }).n;
  }

  /** Per-day sums of the rollups since `from`, for the trend. */
  dailyTotals(cluster: string, node: string, from: number): Array<{ minute: number; seconds: number; bytes: number }> {
    return this.stmts.dailyTotals.all(cluster, node, from) as Array<{ minute: number; seconds: number; bytes: number }>;
  }

  /**
   * The work retention has to do, as tasks that each delete one small batch per call and return
   * how many rows went (0 when done): the runner spreads them over cycles within a time budget,
   * so no call holds the event loop or the write lock for long, whatever the backlog. The
   * per-node tables are keyed by node and time, so their batches are a node's oldest hour.
   */
  retentionTasks(c: RetentionCutoffs): RetentionTask[] {
    const r = this.stmts.retention;
    const byId = (name: string, stmt: Database.Statement, cutoff: number): RetentionTask => ({ name, step: () => this.write(() => stmt.run(cutoff, RETENTION_BATCH).changes) });
    const tasks: RetentionTask[] = [
      byId('sample_failures', r.failures, c.raw),
      byId('events', r.events, c.rollups),
      byId('outbox', r.outbox, c.notifications),
      byId('alerts', r.alerts, c.rollups),
    ];
    for (const { cluster, node } of this.stmts.knownNodes.all() as Array<{ cluster: string; node: string }>) {
      for (const [name, table, cutoff] of [
        ['samples', r.samples, c.raw],
        ['rollups_1m', r.rollups, c.rollups],
        ['node_analysis', r.nodeAnalysis, c.rollups],
      ] as const) {
        tasks.push({ name, step: () => this.write(() => table.run({ cluster, node, cutoff, span: RETENTION_SPAN_MS }).changes) });
      }
    }
    for (const { cluster } of this.stmts.knownClusters.all() as Array<{ cluster: string }>) {
      tasks.push({ name: 'cluster_analysis', step: () => this.write(() => r.clusterAnalysis.run({ cluster, cutoff: c.rollups, span: RETENTION_SPAN_MS }).changes) });
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

  close(): void {
    this.db.close();
  }
}

interface AlertRow {
  id: number;
  fingerprint: string;
  rule: string;
  severity: string;
  labels: string;
  annotations: string;
  state: StoredAlert['state'];
  active_at: number;
  fired_at: number | null;
  resolved_at: number | null;
  last_notified_at: number | null;
}

function alertFromRow(r: AlertRow): StoredAlert {
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    rule: r.rule,
    severity: r.severity,
    labels: JSON.parse(r.labels) as Record<string, string>,
    annotations: JSON.parse(r.annotations) as Record<string, string>,
    state: r.state,
    activeAt: r.active_at,
    firedAt: r.fired_at,
    resolvedAt: r.resolved_at,
    lastNotifiedAt: r.last_notified_at,
  };
}

interface OutboxRow {
  id: number;
  sink: string;
  alert_id: number;
  kind: 'firing' | 'resolved';
  idempotency_key: string;
  payload: string;
  created_at: number;
  next_attempt_at: number;
  attempts: number;
  delivered_at: number | null;
  expired_at: number | null;
  last_error: string | null;
}

function outboxFromRow(r: OutboxRow): OutboxEntry {
  return {
    id: r.id,
    sink: r.sink,
    alertId: r.alert_id,
    kind: r.kind,
    idempotencyKey: r.idempotency_key,
    payload: JSON.parse(r.payload) as unknown,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
    attempts: r.attempts,
    deliveredAt: r.delivered_at,
    expiredAt: r.expired_at,
    lastError: r.last_error,
  };
}

/** Whether a statement's result shows rows written: a RunResult or a count of changes above zero. */
function wroteRows(result: unknown): boolean {
  if (typeof result === 'number') return result > 0;
  if (result && typeof result === 'object' && 'changes' in result) return (result as { changes: number }).changes > 0;
  return false;
}

/**
 * Figures are stored rounded to what they can mean (windows are exact to a sampling interval,
 * rates are averages): SQLite then keeps them as small integers, not 8-byte doubles.
 */
function whole(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x);
}

function hundredths(x: number | null): number | null {
  return x === null || !Number.isFinite(x) ? null : Math.round(x * 100) / 100;
}

function toRow(s: StoredSample): SampleRow {
  const st = s.status;
  return {
    cluster: s.cluster,
    node: s.node,
    taken_at: s.takenAt,
    epoch: s.epoch,
    received_bytes: st.receivedBytes,
    replicated_bytes: st.replicatedBytes,
    received: st.received,
    replicated: st.replicated,
    last_committed: st.lastCommitted,
    cached_downto: st.cachedDownto,
    local_state: st.localState,
    cluster_status: st.clusterStatus,
    cluster_size: st.clusterSize,
    local_state_uuid: st.localStateUuid,
    cluster_state_uuid: st.clusterStateUuid,
    segment: st.segment,
    flow_control_paused: st.flowControlPaused,
    uptime: st.uptimeSeconds,
    duration_ms: Math.round(s.durationMs),
  };
}

function fromRow(r: SampleRow): StoredSample {
  return {
    cluster: r.cluster,
    node: r.node,
    takenAt: r.taken_at,
    epoch: r.epoch,
    durationMs: r.duration_ms,
    status: {
      receivedBytes: r.received_bytes,
      replicatedBytes: r.replicated_bytes,
      received: r.received,
      replicated: r.replicated,
      lastCommitted: r.last_committed,
      cachedDownto: r.cached_downto,
      localState: r.local_state,
      clusterStatus: r.cluster_status,
      clusterSize: r.cluster_size,
      localStateUuid: r.local_state_uuid ?? '',
      clusterStateUuid: r.cluster_state_uuid ?? '',
      segment: r.segment,
      flowControlPaused: r.flow_control_paused,
      uptimeSeconds: r.uptime,
    },
  };
}
